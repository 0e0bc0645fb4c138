"""events.tsv and events.json: every column and level described, and the BIDS validator's
verdict on them inside a minimal BIDS dataset (tests/support/bidscheck.py)."""

import json
import platform
from fractions import Fraction

import bidscheck
from tmspio import __version__, logs, plot
from tmspio.compiler import compile_protocol
from tmspio.protocols import from_dict
from tmspio.safety.core import Declared

CLK = 125_000_000
PRESENTATION = {
    "SoftwareName": "tmspio",
    "SoftwareVersion": __version__,
    "OperatingSystem": platform.platform(terse=True),
}
# the warnings a minimal dataset keeps: what only the lab can say (authors, licence,
# instructions, institution, Cognitive Atlas terms), none about tmspio's own columns
DATASET_WARNINGS = [
    ("TOO_FEW_AUTHORS", None, "/dataset_description.json"),
    ("JSON_KEY_RECOMMENDED", "HEDVersion", "/dataset_description.json"),
    ("JSON_KEY_RECOMMENDED", "License", "/dataset_description.json"),
    ("JSON_KEY_RECOMMENDED", "SourceDatasets", "/dataset_description.json"),
    ("NO_AUTHORS", "Authors", "/dataset_description.json"),
]
SIDECAR_WARNINGS = [
    "Instructions",
    "CogAtlasID",
    "CogPOID",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
]


def expected_warnings(task):
    events = f"/sub-01/beh/sub-01_task-{task}_events.tsv"
    return DATASET_WARNINGS + [("SIDECAR_KEY_RECOMMENDED", k, events) for k in SIDECAR_WARNINGS]


FIRE_TEMPLATE = {
    "name": "fire",
    "title": "pulses on command",
    "family": "single-pulse",
    "pulse_width": "1 ms",
    "channels": [{"name": "tms", "polarity": "active-high"}],
}


def _fire_run(tmp_path):
    """A fire session's files: two fires, the second with trial "b", both captured."""
    rows = [
        {
            "channel": 0,
            "index": k,
            "planned_s": None,
            "captured_s": Fraction(t),
            "deviation_ns": None,
            "confirmed": None,
            "trial": trial,
        }
        for k, (t, trial) in enumerate([("12.5", None), ("13.25", "b")])
    ]
    meta = logs.fire_meta(
        FIRE_TEMPLATE, Fraction(1, 1000), Declared(110, "RMT", 55), "generic-ttl"
    )
    logs.annotate(rows, meta)
    run = tmp_path / "run"
    run.mkdir()
    logs.write_pulses(str(run / "pulses.csv"), rows, {0: "tms"})
    logs.write_bids(str(run / "events.tsv"), str(run / "events.json"), rows, meta)
    return run


def test_fire_session_events_and_sidecar(tmp_path):
    run = _fire_run(tmp_path)
    assert (run / "pulses.csv").read_text().splitlines() == [
        "channel,index,planned_s,captured_s,deviation_ns,confirmed,trial,condition",
        "tms,0,n/a,12.500000000,n/a,n/a,n/a,n/a",
        "tms,1,n/a,13.250000000,n/a,n/a,b,n/a",
    ]
    assert (run / "events.tsv").read_text().splitlines() == [
        "\t".join(logs.BIDS_COLUMNS),
        "12.500000000\t0.001000000\ttms_pulse\tn/a\ttms\ttms\t0\tn/a\t110\tRMT\t55\t"
        "generic-ttl\tn/a\tn/a\tn/a",
        "13.250000000\t0.001000000\ttms_pulse\tb\ttms\ttms\t1\tn/a\t110\tRMT\t55\t"
        "generic-ttl\tn/a\tn/a\tn/a",
    ]
    side = json.loads((run / "events.json").read_text())
    assert set(logs.BIDS_COLUMNS) <= set(side)
    assert side["TaskName"] == "fire" and side["TaskDescription"] == "pulses on command"
    assert side["StimulusPresentation"] == PRESENTATION
    assert side["trial_type"]["Levels"] == {
        "tms_pulse": "TTL trigger pulse delivered to the stimulator"
    }
    assert side["trial"] == {
        "Description": "What the script passed to fire(trial=...) for this pulse (n/a: nothing)"
    }
    assert side["channel"]["Levels"] == {"tms": "output 0, role tms, stimulator generic-ttl"}
    assert side["role"]["Levels"] == {"tms": logs.ROLES["tms"]}
    assert side["intensity_reference"]["Levels"] == {"RMT": "resting motor threshold"}
    assert side["stimulator"]["Levels"] == {"generic-ttl": "tmspio stimulator profile generic-ttl"}
    assert "Levels" not in side["marker"]  # no condition has a marker code
    assert side["intensity_percent"]["Units"] == side["output_percent"]["Units"] == "%"
    assert (
        "(the run declared 110 % RMT, 55 % stimulator output)"
        in (side["intensity_percent"]["Description"])
    )


def test_fire_session_events_pass_the_bids_validator(tmp_path):
    result = bidscheck.validate_run(str(_fire_run(tmp_path)), str(tmp_path / "bids"), task="fire")
    assert (result.returncode, result.errors) == (0, [])
    assert result.codes("warning") == expected_warnings("fire")
    assert result.report["summary"]["dataTypes"] == ["beh"]


def test_the_validator_finds_a_broken_events_file(tmp_path):
    # the tooling itself: a non-number onset and an undeclared trial_type level are errors
    run = _fire_run(tmp_path)
    lines = (run / "events.tsv").read_text().splitlines()
    lines[1] = "abc" + lines[1][len("12.500000000") :]
    lines[2] = lines[2].replace("tms_pulse", "sici_2ms")
    (run / "events.tsv").write_text("\n".join(lines) + "\n")
    result = bidscheck.validate_run(str(run), str(tmp_path / "bids"), task="fire")
    assert result.returncode != 0
    assert result.codes() == [
        ("TSV_VALUE_INCORRECT_TYPE", "onset", "/sub-01/beh/sub-01_task-fire_events.tsv"),
        ("TSV_VALUE_INCORRECT_TYPE", "trial_type", "/sub-01/beh/sub-01_task-fire_events.tsv"),
    ]


# SAI-like: a nerve stimulus (role other, its own stimulator and width), TMS 22 ms later, an
# EEG marker channel sending the condition code as pulses; three trials 2 s apart.
SAI = {
    "name": "sai-markers",
    "family": "custom",
    "pulse_width": "1 ms",
    "stimulator": "magstim-200",
    "channels": [
        {"name": "nerve", "polarity": "active-high", "role": "other", "stimulator": "generic-ttl"},
        {"name": "tms", "polarity": "active-high"},
        {
            "name": "eeg",
            "polarity": "active-high",
            "role": "marker",
            "code": {"encoding": "count", "width": "1 ms", "interval": "4 ms"},
        },
    ],
    "conditions": [
        {
            "name": "sai",
            "marker": 2,
            "pulses": {
                "nerve": {"width": "200 us"},
                "tms": {"offset": "22 ms", "intensity": "120% RMT"},
            },
        },
        {
            "name": "tms-alone",
            "marker": 1,
            "pulses": {"tms": {"offset": "22 ms", "intensity": "65% output"}},
        },
    ],
    "trials": {"design": "list", "sequence": ["sai", "tms-alone", "sai"], "interval": "2 s"},
}
NAMES = {0: "nerve", 1: "tms", 2: "eeg"}


def _sai_run(tmp_path, drop=(), late=None, confirms=()):
    """SAI compiled at 125 MHz, every planned onset captured on its cycle except the pulses
    in `drop` ((output, index)), `late` = ((output, index), cycles) and with confirmation
    edges (source 5) at `confirms`; returns (run directory, rows, meta)."""
    c = compile_protocol(from_dict(SAI, "sai.toml"), CLK)
    planned = {ch.index: cyc for ch, cyc in zip(c.program.channels, c.channel_cycles)}
    edges = []
    for ch, cycles in planned.items():
        for k, cycle in enumerate(cycles):
            if (ch, k) in drop:
                continue
            if late is not None and late[0] == (ch, k):
                cycle += late[1]
            edges.append((ch, 1, cycle))
    edges += [(5, 1, cycle) for cycle in confirms]
    edges.sort(key=lambda e: e[2])
    rows = logs.match_pulses(
        planned, {0: 0, 1: 0, 2: 0}, 0, edges, CLK, confirm_source=5, confirm_channel=1
    )
    meta = logs.protocol_meta(c, Declared(100, "RMT"), "magstim-200")
    logs.annotate(rows, meta)
    run = tmp_path / "run"
    run.mkdir()
    logs.write_pulses(str(run / "pulses.csv"), rows, NAMES)
    logs.write_bids(str(run / "events.tsv"), str(run / "events.json"), rows, meta)
    (run / "summary.json").write_text(json.dumps({"protocol": "sai-markers"}))
    return run, rows, meta


def test_conditions_events_rows_and_pulses_csv(tmp_path):
    run, _, _ = _sai_run(tmp_path)
    tsv = [line.split("\t") for line in (run / "events.tsv").read_text().splitlines()]
    assert tsv[0] == logs.BIDS_COLUMNS
    # onset, duration, trial_type, trial, channel, role, pulse_index, marker,
    # intensity_percent, intensity_reference, output_percent, stimulator, planned_onset,
    # deviation_ns, confirmed
    na = "n/a"
    assert tsv[1:] == [
        ["0.000000000", "0.000200000", "sai", "0", "nerve", "other", "0", na, na, na, na]
        + ["generic-ttl", "0.000000000", "0", na],
        ["0.000000000", "0.001000000", "sai", "0", "eeg", "marker", "0", "2", na, na, na]
        + [na, "0.000000000", "0", na],
        ["0.004000000", "0.001000000", "sai", "0", "eeg", "marker", "1", "2", na, na, na]
        + [na, "0.004000000", "0", na],
        ["0.022000000", "0.001000000", "sai", "0", "tms", "tms", "0", na, "120", "RMT", na]
        + ["magstim-200", "0.022000000", "0", na],
        ["2.000000000", "0.001000000", "tms-alone", "1", "eeg", "marker", "2", "1", na, na]
        + [na, na, "2.000000000", "0", na],
        ["2.022000000", "0.001000000", "tms-alone", "1", "tms", "tms", "1", na, na, na, "65"]
        + ["magstim-200", "2.022000000", "0", na],
        ["4.000000000", "0.000200000", "sai", "2", "nerve", "other", "1", na, na, na, na]
        + ["generic-ttl", "4.000000000", "0", na],
        ["4.000000000", "0.001000000", "sai", "2", "eeg", "marker", "3", "2", na, na, na]
        + [na, "4.000000000", "0", na],
        ["4.004000000", "0.001000000", "sai", "2", "eeg", "marker", "4", "2", na, na, na]
        + [na, "4.004000000", "0", na],
        ["4.022000000", "0.001000000", "sai", "2", "tms", "tms", "2", na, "120", "RMT", na]
        + ["magstim-200", "4.022000000", "0", na],
    ]
    assert (run / "pulses.csv").read_text().splitlines() == [
        "channel,index,planned_s,captured_s,deviation_ns,confirmed,trial,condition",
        "nerve,0,0.000000000,0.000000000,0,n/a,0,sai",
        "nerve,1,4.000000000,4.000000000,0,n/a,2,sai",
        "tms,0,0.022000000,0.022000000,0,n/a,0,sai",
        "tms,1,2.022000000,2.022000000,0,n/a,1,tms-alone",
        "tms,2,4.022000000,4.022000000,0,n/a,2,sai",
        "eeg,0,0.000000000,0.000000000,0,n/a,0,sai",
        "eeg,1,0.004000000,0.004000000,0,n/a,0,sai",
        "eeg,2,2.000000000,2.000000000,0,n/a,1,tms-alone",
        "eeg,3,4.000000000,4.000000000,0,n/a,2,sai",
        "eeg,4,4.004000000,4.004000000,0,n/a,2,sai",
    ]


def test_conditions_sidecar_describes_every_column_and_level(tmp_path):
    run, _, _ = _sai_run(tmp_path)
    side = json.loads((run / "events.json").read_text())
    assert list(side) == ["TaskName", *logs.BIDS_COLUMNS, "StimulusPresentation"]
    assert all(side[c]["Description"] for c in logs.BIDS_COLUMNS)
    assert side["TaskName"] == "sai-markers" and "TaskDescription" not in side  # none given
    assert side["trial_type"]["Levels"] == {
        "sai": "condition sai: nerve pulses at trial onset + 0 s (width 200 us, stimulator "
        "generic-ttl); tms pulses at trial onset + 22 ms (width 1 ms, 120 % RMT, stimulator "
        "magstim-200); eeg sends marker code 2 as 2 pulses of 1 ms, 4 ms onset to onset "
        "from the trial onset",
        "tms-alone": "condition tms-alone: tms pulses at trial onset + 22 ms (width 1 ms, "
        "65 % stimulator output, stimulator magstim-200); eeg sends marker code 1 as 1 pulse "
        "of 1 ms, 4 ms onset to onset from the trial onset; nerve not pulsing",
    }
    assert side["trial"]["Description"].startswith("Index of the trial the pulse belongs to")
    assert side["channel"]["Levels"] == {
        "nerve": "output 0, role other, stimulator generic-ttl",
        "tms": "output 1, role tms, stimulator magstim-200",
        "eeg": "output 2, role marker",
    }
    assert side["role"]["Levels"] == {r: logs.ROLES[r] for r in ("other", "tms", "marker")}
    assert side["marker"]["Levels"] == {
        "2": "marker code of condition sai",
        "1": "marker code of condition tms-alone",
    }
    assert side["intensity_reference"]["Levels"] == {"RMT": "resting motor threshold"}
    assert side["stimulator"]["Levels"] == {
        "generic-ttl": "tmspio stimulator profile generic-ttl",
        "magstim-200": "tmspio stimulator profile magstim-200",
    }
    assert side["confirmed"]["Levels"] == {
        "true": "the stimulator's trigger-out answered this pulse",
        "false": "no answer before the channel's next pulse",
    }
    units = {c: side[c].get("Units") for c in logs.BIDS_COLUMNS if "Units" in side[c]}
    assert units == {
        "onset": "s",
        "duration": "s",
        "intensity_percent": "%",
        "output_percent": "%",
        "planned_onset": "s",
        "deviation_ns": "ns",
    }


def test_conditions_events_pass_the_bids_validator(tmp_path):
    run, _, _ = _sai_run(tmp_path)
    result = bidscheck.validate_run(str(run), str(tmp_path / "bids"))
    assert (result.returncode, result.errors) == (0, [])
    # no title or methods in SAI: TaskDescription is asked for too
    events = "/sub-01/beh/sub-01_task-saimarkers_events.tsv"
    assert result.codes("warning") == (
        DATASET_WARNINGS
        + [("SIDECAR_KEY_RECOMMENDED", k, events) for k in SIDECAR_WARNINGS[:1]]
        + [("SIDECAR_KEY_RECOMMENDED", "TaskDescription", events)]
        + [("SIDECAR_KEY_RECOMMENDED", k, events) for k in SIDECAR_WARNINGS[1:]]
    )


def test_summary_per_condition_and_trial(tmp_path):
    # trial 1's TMS pulse arrives 3 cycles (24 ns) late and trial 2's never comes (a run cut
    # short: the pairing is in order per channel); the TMS stimulator (confirm channel 1)
    # answers trial 0's pulse only
    first_tms = 2_750_000  # 22 ms at 125 MHz
    _, rows, meta = _sai_run(tmp_path, drop={(1, 2)}, late=((1, 1), 3), confirms=[first_tms + 100])
    assert logs.summarize_plan(rows, meta) == {
        "conditions": {
            "sai": {
                "trials": 2,
                "pulses_planned": 8,
                "pulses_delivered": 7,
                "max_abs_deviation_ns": 0,
                "pulses_confirmed": 1,
                "pulses_confirmable": 1,
                "channels": {
                    "nerve": {"pulses_planned": 2, "pulses_delivered": 2},
                    "tms": {"pulses_planned": 2, "pulses_delivered": 1},
                    "eeg": {"pulses_planned": 4, "pulses_delivered": 4},
                },
            },
            "tms-alone": {
                "trials": 1,
                "pulses_planned": 2,
                "pulses_delivered": 2,
                "max_abs_deviation_ns": 24,
                "pulses_confirmed": 0,
                "pulses_confirmable": 1,
                "channels": {
                    "nerve": {"pulses_planned": 0, "pulses_delivered": 0},
                    "tms": {"pulses_planned": 1, "pulses_delivered": 1},
                    "eeg": {"pulses_planned": 1, "pulses_delivered": 1},
                },
            },
        },
        "trials_planned": 3,
        "trials_complete": 2,
        "trials": [
            {
                "index": 0,
                "condition": "sai",
                "onset_s": 0.0,
                "pulses_planned": 4,
                "pulses_delivered": 4,
            },
            {
                "index": 1,
                "condition": "tms-alone",
                "onset_s": 2.0,
                "pulses_planned": 2,
                "pulses_delivered": 2,
            },
            {
                "index": 2,
                "condition": "sai",
                "onset_s": 4.0,
                "pulses_planned": 4,
                "pulses_delivered": 3,
            },
        ],
    }
    s = logs.summarize(rows, False, None, logs.summarize_plan(rows, meta), confirm_channel="tms")
    assert (s["pulses_planned"], s["pulses_delivered"], s["max_abs_deviation_ns"]) == (10, 9, 24)
    assert (s["pulses_confirmed"], s["pulses_confirmable"]) == (1, 2)


def test_plots_group_deviations_by_condition(tmp_path):
    run, rows, meta = _sai_run(tmp_path, drop={(1, 2)}, late=((1, 1), 3))
    summary = logs.summarize(
        rows, False, None, {"sysclk_hz": CLK, **logs.summarize_plan(rows, meta)}
    )
    logs.write_json(str(run / "summary.json"), summary)
    scan = plot.scan_pulses(str(run))
    assert scan["names"] == ["nerve", "tms", "eeg"]
    assert scan["conditions"] == ["sai", "tms-alone"]
    # 7 sai pulses at deviation 0; tms-alone: the marker at 0 and the TMS pulse 3 cycles late
    centre = [(a + b) / 2 for a, b in zip(scan["edges"], scan["edges"][1:])]
    got = [
        {round(x): int(n) for x, n in zip(centre, counts) if n} for counts in scan["cond_counts"]
    ]
    assert got == [{0: 7}, {0: 1, 24: 1}]
    assert (sum(scan["cond_counts"]) == scan["counts"]).all()
    assert plot._condition_label("tms-alone", summary) == (
        "tms-alone: 2/2 delivered, max |dev| 24 ns"
    )
    for path in plot.write_plots(str(run)):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plots_without_conditions_do_not_read_the_condition_column(tmp_path, monkeypatch):
    # a run without conditions is plotted as before: by channel, no grouping pass
    run = _fire_run(tmp_path)
    logs.write_json(str(run / "summary.json"), {"sysclk_hz": CLK})
    seen = []
    real = plot._numbers
    monkeypatch.setattr(
        plot, "_numbers", lambda col, names, skip=(): seen.append(skip) or real(col, names, skip)
    )
    scan = plot.scan_pulses(str(run))
    assert (scan["conditions"], scan["cond_cells"], scan["cond_counts"]) == ([], [], [])
    assert seen == [()]  # the channel column of the one chunk (kept for pass 2), nothing else
