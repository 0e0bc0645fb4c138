"""The protocols/show/check/stimulators verbs, run in-process through cli.main."""

import json

import pytest
from tmspio import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_protocols_lists_the_library(capsys):
    code, out, err = run(capsys, "protocols")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["name", "family", "pulses", "last", "pulse", "title"]
    itbs = next(line for line in lines if line.startswith("itbs "))
    assert itbs.split()[:5] == ["itbs", "theta-burst", "600", "191.84", "s"]
    assert itbs.endswith("[UNVERIFIED x1]")
    code, out, _ = run(capsys, "protocols", "--json")
    rows = json.loads(out)
    assert len(rows) == 23
    assert {r["name"]: (r["pulses"], r["last_pulse_s"]) for r in rows}["rtms-10hz"] == (
        3000,
        2223.9,
    )


def test_show_text(capsys):
    code, out, err = run(capsys, "show", "itbs", "--methods")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "itbs: iTBS: intermittent theta burst, 600 pulses",
        "  family theta-burst; start immediate; pulse width 1 ms",
        "  pulses 600 on 1 channel; first pulse 0 s; last pulse 191.84 s; duration 191.841 s",
        "  compiled for 125000000 Hz: 200 segments, largest rounding error 0.000 ns",
        "  channel 0 tms: active-high, offset 0 s, 600 pulses",
        "  intensity 80% AMT; stimulator not declared",
        "  UNVERIFIED: intensity 80% AMT (Huang 2005 intensity not confirmed against the paper; "
        "later iTBS studies list 80% AMT or 70% RMT)",
        "  citation: Huang YZ, Edwards MJ, Rounis E, Bhatia KP, Rothwell JC (2005) Theta burst "
        "stimulation of the human motor cortex. Neuron 45:201-206",
        "  methods: Bursts of 3 pulses at 50 Hz repeated at 5 Hz in 2 s trains every 10 s "
        "(20 trains, 600 pulses, last pulse 191.84 s).",
    ]


def test_show_names_the_confirm_channel(capsys):
    code, out, err = run(capsys, "show", "pas25")
    assert (code, err) == (0, "")
    assert out.splitlines()[4:7] == [
        "  channel 0 nerve: active-high, offset 0 s, 90 pulses, stimulator generic-ttl",
        "  channel 1 tms: active-high, offset 25 ms, 90 pulses",
        "  confirm input: channel 1 tms (pulses of the other channels log confirmed = n/a)",
    ]
    code, out, err = run(capsys, "show", "pas25", "--json")
    assert (code, err, json.loads(out)["confirm_channel"]) == (0, "", "tms")


def test_show_json(capsys):
    code, out, err = run(capsys, "show", "rtms-0.9hz", "--json", "--sysclk", "48000000")
    assert (code, err) == (0, "")
    s = json.loads(out)
    assert s["pulses"] == 810 and s["sysclk_hz"] == 48_000_000
    assert s["first_pulse_s"] == 0.0
    assert s["last_pulse_s"] == pytest.approx(809 / 0.9, abs=1e-9)
    assert s["duration_s"] == pytest.approx(809 / 0.9 + 0.001, abs=1e-9)
    assert s["max_rounding_error_s"] <= 0.5 / 48e6
    assert isinstance(s["segments"], int) and s["segments"] >= 1
    (ch,) = s["channels"]
    assert (ch["name"], ch["pulses"], len(ch["onsets_s"])) == ("tms", 810, 810)
    assert s["unverified"] == [
        "intensity not given in the reference (declare it with --intensity)"
    ]


def test_show_json_reports_drawn_intervals(capsys):
    code, out, _ = run(capsys, "show", "tms-eeg", "--json")
    s = json.loads(out)
    assert len(s["draws"]) == 99
    onsets = s["channels"][0]["onsets_s"]
    assert [d["value_ns"] for d in s["draws"]] == [
        round((b - a) * 1e9) for a, b in zip(onsets, onsets[1:])
    ]


def test_show_a_file(capsys, tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text(
        'name = "mine"\nfamily = "single-pulse"\npulse_width = "500 us"\n'
        'channels = [{ name = "tms", polarity = "active-low" }]\n'
        'onsets = ["0 s", "2 s", "5 s"]\n'
    )
    code, out, err = run(capsys, "show", str(f), "--json")
    assert (code, err) == (0, "")
    s = json.loads(out)
    assert s["channels"][0]["onsets_s"] == [0.0, 2.0, 5.0]
    assert s["channels"][0]["segments"] == [
        [1, 62_500, 0, 250_000_000, 1],
        [1, 62_500, 0, 375_000_000, 0],
        [1, 62_500, 0, 125_000, 0],
    ]


def test_bad_input_exits_2_with_one_line(capsys, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(
        'name = "bad"\nfamily = "rtms"\npulse_width = "1 ms"\n'
        'channels = [{ name = "tms", polarity = "active-high" }]\n'
        '[timing]\ninter_pulse_interval = "20 mss"\npulses_in_burst = 3\n'
    )
    code, out, err = run(capsys, "show", str(f))
    assert (code, out) == (2, "")
    assert err == (
        'tmspio: error: bad.toml: timing.inter_pulse_interval = "20 mss": a duration '
        'string such as "20 ms" (units s, ms, us) or a rate such as "10 Hz"\n'
    )
    code, _, err = run(capsys, "show", "nope")
    assert code == 2 and err.startswith(
        'tmspio: error: protocol = "nope": not a file and not '
        "in the library; library: ccpas, ctbs300, ctbs600,"
    )
    assert err.count("\n") == 1
    code, _, err = run(capsys, "show", "itbs", "--sysclk", "fast")
    assert (code, err) == (2, "tmspio: error: --sysclk = 'fast': an integer 1..4294967295 Hz\n")
    code, _, err = run(capsys, "check", "itbs", "--intensity", "lots")
    assert (code, err) == (
        2,
        "tmspio: error: --intensity = 'lots': a number (percent of motor threshold)\n",
    )
    code, _, err = run(capsys, "check", "itbs", "--reference", "RMT")
    assert (code, err) == (
        2,
        "tmspio: error: --reference = 'RMT': only together with "
        "--intensity (without it the protocol's own declaration is used)\n",
    )
    code, _, err = run(capsys, "check", "qps5")
    assert (code, err) == (
        2,
        "tmspio: error: qps5: intensity: not declared in the protocol; give --intensity PCT\n",
    )
    code, _, err = run(capsys, "check", "itbs", "--stimulator", "acme")
    assert (code, err) == (
        2,
        "tmspio: error: --stimulator = 'acme': unknown stimulator; "
        "allowed: magstim-200, magstim-bistim, magstim-rapid2, "
        "magstim-rapid2-dual, magventure-magpro, deymed-duomag, "
        "generic-ttl\n",
    )


def test_check_refuses_with_exit_3_and_the_findings(capsys):
    code, out, err = run(capsys, "check", "rtms-10hz", "--intensity", "130")
    assert code == 3
    assert out.splitlines()[0] == (
        "rtms-10hz at 130% RMT on generic-ttl: REFUSED (8 rules, 1 refused, 5 warnings)"
    )
    # the refusing finding, its kind and the nearest passing change are in the report on
    # stdout; stderr has the one error line
    assert (
        "  REFUSE safety wassermann-train-duration: train 4 s at 10 Hz, 130% RMT; limit 2.9 s "
        "[Wassermann 1998 single-train table, as carried in Rossi 2009 (Table 3; one copy "
        "calls it Table 4); UNVERIFIED: table transcribed from memory of Rossi 2009, not "
        "checked against the primary table]; would pass with: at most 29 pulses per train, "
        "or at most 120% RMT"
    ) in out.splitlines()
    assert err == (
        "tmspio: error: rtms-10hz refused by the safety envelope (1 rule); "
        '--override "reason" runs it anyway and logs the reason\n'
    )


def test_check_passes_and_override_lets_a_refusal_through(capsys):
    code, out, err = run(capsys, "check", "itbs", "--stimulator", "magstim-rapid2")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "itbs at 80% AMT on magstim-rapid2: PASS (12 rules, 0 refused, 2 warnings)"
    )
    code, out, err = run(
        capsys,
        "check",
        "rtms-10hz",
        "--intensity",
        "130",
        "--override",
        "IRB 2026-17 approves 130%",
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[0].endswith("REFUSED, OVERRIDDEN (8 rules, 1 refused, 5 warnings)")
    assert out.splitlines()[-1] == "OVERRIDDEN by the operator: IRB 2026-17 approves 130%"
    code, _, err = run(capsys, "check", "rtms-10hz", "--intensity", "130", "--override", " ")
    assert (code, err) == (2, "tmspio: error: --override = ' ': a written reason (not empty)\n")


def test_check_json(capsys):
    code, out, _ = run(
        capsys, "check", "ctbs600", "--intensity", "130", "--reference", "RMT", "--json"
    )
    assert code == 3
    report = json.loads(out)
    assert report["verdict"] == "REFUSED" and report["intensity"] == "130% RMT"
    refused = [f for f in report["findings"] if f["outcome"] == "refuse"]
    assert [(f["rule"], f["rule_kind"], f["value"], f["limit"], f["fix"]) for f in refused] == [
        ("family-intensity", "safety", "130% RMT", "120% RMT", "at most 120% RMT")
    ]
    # cTBS's published 80% AMT is a method finding: a warning, never a refusal
    method = [f for f in report["findings"] if f["rule_kind"] == "method"]
    assert [(f["rule"], f["outcome"]) for f in method] == [
        ("published-variant", "pass"),
        ("published-intensity", "warn"),
    ]


def test_stimulators(capsys):
    code, out, err = run(capsys, "stimulators")
    assert (code, err) == (0, "")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:8]}
    assert rows["magstim-rapid2"][:7] == [
        "magstim-rapid2",
        "either",
        "UNKNOWN",
        "20",
        "ms",
        "50",
        "Hz",
    ]
    assert rows["magventure-magpro"][1:5] == ["UNKNOWN"] * 4
    code, out, _ = run(capsys, "stimulators", "magstim-200")
    assert "min width:    10 us: not stated by Magstim" in out
    assert "S41 CED Signal manual" in out
    code, out, _ = run(capsys, "stimulators", "--json")
    assert [p["id"] for p in json.loads(out)] == [
        "magstim-200",
        "magstim-bistim",
        "magstim-rapid2",
        "magstim-rapid2-dual",
        "magventure-magpro",
        "deymed-duomag",
        "generic-ttl",
    ]
    code, _, err = run(capsys, "stimulators", "acme")
    assert code == 2 and err.startswith("tmspio: error: stimulator = 'acme': unknown stimulator")


def _protocol_file(tmp_path, text):
    """mine.toml: a one-channel rtms file whose remaining lines are `text`."""
    f = tmp_path / "mine.toml"
    f.write_text(
        'name = "mine"\nfamily = "rtms"\npulse_width = "1 ms"\n'
        'channels = [{ name = "tms", polarity = "active-high" }]\n' + text
    )
    return str(f)


@pytest.mark.parametrize(
    "text, line",
    [
        (
            'intensity = { percent = "80", reference = "RMT" }\n',
            'intensity.percent = "80": a number',
        ),
        (
            '[timing]\ninter_pulse_interval = "100 ms"\npulses_in_burst = "10"\n',
            'timing.pulses_in_burst = "10": an integer',
        ),
        (
            '[timing]\ninter_pulse_interval = "100 ms"\npulses_in_burst = true\n',
            "timing.pulses_in_burst = true: an integer",
        ),
        (
            '[timing]\ninter_pulse_interval = "100 ms"\npulses_in_burst = 0\n',
            "timing.pulses_in_burst = 0: a number >= 1",
        ),
        (
            '[timing]\ninter_pulse_interval = "0 ms"\npulses_in_burst = 10\n',
            'timing.inter_pulse_interval = "0 ms": longer than pulse_width (1 ms)',
        ),
        (
            '[timing]\ninter_pulse_interval = { uniform = ["1 s", "2 s"], seed = "7" }\n'
            "pulses_in_burst = 3\n",
            'timing.inter_pulse_interval.seed = "7": an integer',
        ),
    ],
)
def test_wrong_types_in_a_file_are_refused_not_coerced(capsys, tmp_path, text, line):
    code, out, err = run(capsys, "show", _protocol_file(tmp_path, text))
    assert (code, out, err) == (2, "", "tmspio: error: mine.toml: %s\n" % line)


@pytest.mark.parametrize(
    "argv, line",
    [
        ((), "the following arguments are required: VERB (see `tmspio --help`)"),
        (
            ("fly",),
            "argument VERB: invalid choice: 'fly' (choose from 'protocols', 'show', "
            "'check', 'stimulators', 'run', 'plot', 'emulate', 'deploy', 'selftest', "
            "'maintenance') "
            "(see `tmspio --help`)",
        ),
        (
            ("show",),
            "show: the following arguments are required: PROTOCOL|FILE (see `tmspio show --help`)",
        ),
        (
            ("check", "itbs", "--intensity", "80", "--reference", "mt"),
            "check: argument --reference: invalid choice: 'mt' (choose from 'RMT', 'AMT', 'MT') "
            "(see `tmspio check --help`)",
        ),
        (
            ("show", "itbs", "--colour"),
            "show: unrecognized arguments: --colour (see `tmspio show --help`)",
        ),
        (
            ("run", "itbs", "--emulator", "--port", "/dev/ttyACM0"),
            "run: argument --port: not allowed with argument --emulator (see `tmspio run --help`)",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2(capsys, argv, line):
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", "tmspio: error: %s\n" % line)


@pytest.mark.parametrize("value, shown", [("-5", "-5"), ("0", "0"), ("300.5", "300.5")])
def test_intensity_out_of_range_names_the_value_as_typed(capsys, value, shown):
    code, out, err = run(capsys, "check", "itbs", "--intensity", value)
    assert (code, out, err) == (
        2,
        "",
        "tmspio: error: --intensity = %s: a percentage above 0 and at most 300\n" % shown,
    )


def test_run_takes_the_same_envelope_options_as_check(capsys):
    # --intensity is parsed like check's (one line, exit 2) and --reference is accepted
    code, out, err = run(capsys, "run", "itbs", "--emulator", "--intensity", "much")
    assert (code, out, err) == (
        2,
        "",
        "tmspio: error: --intensity = 'much': a number (percent of motor threshold)\n",
    )
    code, out, err = run(
        capsys,
        "run",
        "ctbs600",
        "--intensity",
        "130",
        "--reference",
        "RMT",
        "--port",
        "/dev/tmspio-no-such-port",
    )
    assert code == 3
    assert out.splitlines()[0] == (
        "ctbs600 at 130% RMT on generic-ttl: REFUSED (12 rules, 1 refused, 5 warnings)"
    )
    assert err == (
        "tmspio: error: ctbs600 refused by the safety envelope (1 rule); "
        '--override "reason" runs it anyway and logs the reason\n'
    )


def test_the_envelope_step_takes_the_same_declaration_as_run():
    from tmspio import envelope

    a = envelope.assess("ctbs600", {"intensity": 130, "reference": "RMT", "override": "IRB 7"})
    assert (str(a.declared), a.override, a.verdict_text()) == (
        "130% RMT",
        "IRB 7",
        "REFUSED, OVERRIDDEN",
    )
    assert [f.rule for f in a.findings if f.outcome == "refuse"] == ["family-intensity"]
    assert a.source.endswith("host/tmspio/data/protocols/ctbs600.toml")
    assert a.report()[-1] == "OVERRIDDEN by the operator: IRB 7"
