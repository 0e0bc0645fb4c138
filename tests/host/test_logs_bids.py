"""events.tsv and events.json: every column and level described, and the BIDS validator's
verdict on them inside a minimal BIDS dataset (tests/support/bidscheck.py)."""

import json
import platform
from fractions import Fraction

import bidscheck
from tmspio import __version__, logs
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
