"""Issue 11: conditions and trials in protocol files, compiled exactly, shown and checked."""

import copy
import itertools
import json
import os
import tomllib
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tmspio import cli, compiler, safety
from tmspio.errors import InputError
from tmspio.protocols import from_dict, load_file, schedule

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
EXAMPLE = os.path.join(ROOT, "examples", "protocols", "sici-experiment.toml")
E2E = os.path.join(ROOT, "tests", "e2e", "protocols", "sici-trials.toml")

with open(EXAMPLE, "rb") as _f:
    BASE = tomllib.load(_f)


def _with(change):
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _error(data):
    with pytest.raises(InputError) as e:
        from_dict(data, "p.toml")
    return str(e.value)


MARKER = {
    "name": "eeg",
    "polarity": "active-high",
    "role": "marker",
    "code": {"encoding": "count", "width": "1 ms", "interval": "4 ms"},
}


def _set(path, value):
    """A change that sets data[path...] = value (creates nothing; the path must exist)."""

    def change(data):
        node = data
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value

    return change


def _add_marker(extra=None):
    def change(data):
        ch = copy.deepcopy(MARKER)
        ch.update(extra or {})
        data["channels"].append(ch)

    return change


ERRORS = [
    (
        _set(("timing",), {"pulses_in_burst": 1}),
        "timing: not allowed together with conditions: a protocol has either timing, onsets, "
        "or conditions with trials",
    ),
    (lambda d: d.pop("trials"), "trials: required together with conditions"),
    (
        _set(("conditions", 0, "pulses", "nope"), {}),
        "conditions.0.pulses.nope: a channel name: cond, test",
    ),
    (
        _set(("conditions", 1, "pulses", "test", "colour"), "red"),
        'conditions.1.pulses.test.colour = "red": unknown field; allowed here: offset, width, '
        "intensity, stimulator",
    ),
    (
        _set(("conditions", 1, "pulses", "test", "intensity"), "120 % XMT"),
        'conditions.1.pulses.test.intensity = "120 % XMT": a table {percent, reference} or '
        '{output_percent}, or text such as "120% RMT", "80% AMT", "110% MT" or "65% output"',
    ),
    (
        _set(("conditions", 1, "pulses", "test", "intensity"), {"percent": 120}),
        "conditions.1.pulses.test.intensity.reference: required with percent: RMT, AMT or MT",
    ),
    (
        _set(("conditions", 2, "marker"), 2),
        "conditions.2.marker = 2: a code not used by another condition (sici-2ms has 2)",
    ),
    (_set(("conditions", 2, "marker"), 256), "conditions.2.marker = 256: a number <= 255"),
    (
        _set(("conditions", 2, "name"), "sici-2ms"),
        'conditions.2.name = "sici-2ms": a name not used by another condition',
    ),
    (
        _set(("trials", "interval"), "3.5 ms"),
        'trials.interval = "3.5 ms": longer than the longest trial (4 ms, to the end of '
        "conditions.2.pulses.test)",
    ),
    (
        _set(("trials", "interval"), {"uniform": ["3 ms", "6 s"], "seed": 1}),
        'trials.interval = {"uniform": ["3 ms", "6 s"], "seed": 1}: longer than the longest '
        "trial (4 ms, to the end of conditions.2.pulses.test)",
    ),
    (
        _set(("start",), {"mode": "gated", "refractory": "10 s"}),
        'start.mode = "gated": immediate or trigger with conditions (a gate edge fires one '
        "segment per channel, and a channel that does not pulse in every trial cannot keep "
        "that)",
    ),
    (
        _set(("channels", 1, "offset"), "2 ms"),
        'channels.1.offset = "2 ms": "0 s" with conditions (give each pulse\'s offset in '
        "conditions.*.pulses)",
    ),
    (
        _set(("trials", "sequence"), ["sici-2ms"]),
        'trials.sequence = ["sici-2ms"]: not allowed when design = "random"',
    ),
    (lambda d: d["trials"].pop("seed"), 'trials.seed: required when design = "random"'),
    (
        lambda d: d.update(trials={"design": "list", "sequence": ["sici-2ms", "nope"]}),
        'trials.sequence.1 = "nope": a condition name: test-alone, sici-2ms, sici-3ms',
    ),
    (
        lambda d: d.update(trials={"design": "blocks", "repeats": 2, "order": ["sici-2ms"]}),
        'trials.order = ["sici-2ms"]: each condition exactly once: test-alone, sici-2ms, sici-3ms',
    ),
    (
        lambda d: d.update(trials={"design": "blocks", "repeats": 2}),
        'trials.seed: required when design = "blocks" has no order',
    ),
    (
        lambda d: d.update(
            conditions=[BASE["conditions"][1]],
            trials={"design": "random", "repeats": 3, "max_run": 2, "seed": 1, "interval": "5 s"},
        ),
        "trials.max_run = 2: at least repeats (3) with a single condition",
    ),
    (
        lambda d: d.update(
            trials={"design": "list", "sequence": ["test-alone", "test-alone"], "interval": "5 s"}
        ),
        'channels.0 = "cond": a channel that pulses in at least one trial (no trial\'s '
        "condition lists it in pulses)",
    ),
    (
        _add_marker({"role": "tms"}),
        'channels.2.code = "count": only allowed when role = "marker"',
    ),
    (
        _add_marker({"code": None}),
        'channels.2.code: required when role = "marker" (encoding "count" or "width")',
    ),
    (
        _add_marker({"code": {"encoding": "count", "width": "1 ms", "interval": "1 ms"}}),
        'channels.2.code.interval = "1 ms": longer than width (1 ms)',
    ),
    (
        _add_marker({"code": {"encoding": "width", "width": "1 ms"}}),
        'channels.2.code.unit: required when encoding = "width"',
    ),
    (
        _add_marker({"code": {"encoding": "width", "unit": "1 ms", "interval": "2 ms"}}),
        'channels.2.code.interval = "2 ms": only allowed when encoding = "count"',
    ),
    (
        lambda d: (
            _add_marker()(d),
            d["conditions"][1]["pulses"].update(eeg={}),
        ),
        'conditions.1.pulses.eeg: a channel with role tms or other (a "marker" channel sends '
        "the condition's marker code by itself)",
    ),
    (
        # code 3 as 3 pulses 4 ms apart ends 9 ms after the trial onset
        lambda d: (_add_marker()(d), d["trials"].update(interval="9 ms")),
        'trials.interval = "9 ms": longer than the longest trial (9 ms, to the end of the '
        "marker code of conditions.2)",
    ),
]


@pytest.mark.parametrize("change, line", ERRORS)
def test_bad_trial_protocols_are_one_line_naming_field_value_and_allowed(change, line):
    assert _error(_with(change)) == "p.toml: " + line


def test_marker_role_needs_conditions():
    data = {
        "name": "x",
        "family": "single-pulse",
        "pulse_width": "1 ms",
        "channels": [{"name": "a", "polarity": "active-high"}, MARKER],
        "timing": {"pulses_in_burst": 1},
    }
    assert _error(data) == (
        'p.toml: channels.1.role = "marker": tms or other (a "marker" channel sends condition '
        "codes: protocols with conditions and trials only)"
    )


# ---- trial orders ------------------------------------------------------------------------


def test_example_order_for_its_seed_is_balanced_with_runs_of_at_most_two():
    c = compiler.compile_protocol(load_file(EXAMPLE))
    names = [t.condition for t in c.trials]
    assert names[:10] == [
        "sici-2ms",
        "test-alone",
        "sici-2ms",
        "test-alone",
        "test-alone",
        "sici-3ms",
        "test-alone",
        "sici-2ms",
        "sici-2ms",
        "test-alone",
    ]
    assert sorted(names) == sorted(["test-alone", "sici-2ms", "sici-3ms"] * 10)
    assert max(len(list(g)) for _, g in itertools.groupby(names)) == 2
    assert [t.index for t in c.trials] == list(range(30))
    onsets = [t.onset for t in c.trials]
    assert onsets[0] == 0 and onsets[1] == Fraction("4.904759107")
    assert [d.value for d in c.schedule.draws] == [b - a for a, b in zip(onsets, onsets[1:])]
    assert all(4 <= d.value <= 6 for d in c.schedule.draws)


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(1, 4),
    repeats=st.integers(1, 7),
    max_run=st.integers(1, 4),
    seed=st.integers(0, 2**63 - 1),
)
def test_balanced_order_property(k, repeats, max_run, seed):
    names = ["c%d" % i for i in range(k)]
    if k == 1 and repeats > max_run:
        return  # refused by the model (test above)
    order = schedule.balanced_order(names, repeats, seed, max_run)
    assert sorted(order) == sorted(names * repeats)
    assert max(len(list(g)) for _, g in itertools.groupby(order)) <= max_run
    assert schedule.balanced_order(names, repeats, seed, max_run) == order  # seeded


def test_balanced_order_without_max_run_is_a_seeded_weighted_shuffle():
    assert schedule.balanced_order(["a", "b"], 3, 7) == schedule.balanced_order(["a", "b"], 3, 7)
    assert sorted(schedule.balanced_order(["a", "b"], 3, 7)) == ["a"] * 3 + ["b"] * 3


def _small(trials, conditions=None):
    return {
        "name": "small",
        "family": "paired-pulse",
        "pulse_width": "1 ms",
        "channels": [
            {"name": "a", "polarity": "active-high"},
            {"name": "b", "polarity": "active-low"},
        ],
        "conditions": conditions
        or [
            {"name": "A", "pulses": {"a": {}}},
            {
                "name": "B",
                "marker": 2,
                "pulses": {"a": {}, "b": {"offset": "2 ms", "width": "0.5 ms"}},
            },
        ],
        "trials": trials,
    }


def test_blocks_in_the_given_order_and_in_a_seeded_order():
    p = from_dict(
        _small({"design": "blocks", "repeats": 2, "order": ["B", "A"], "interval": "1 s"})
    )
    assert schedule.trial_order(p) == ["B", "B", "A", "A"]
    p = from_dict(_small({"design": "blocks", "repeats": 2, "seed": 3, "interval": "1 s"}))
    first = schedule.trial_order(p)
    assert first in (["A", "A", "B", "B"], ["B", "B", "A", "A"])
    # the seed fixes the block order: Fisher-Yates with random.Random(3).random()
    import random

    j = int(random.Random(3).random() * 2)
    assert first == (["B", "B", "A", "A"] if j == 0 else ["A", "A", "B", "B"])


def test_list_design_compiles_to_exact_segments_per_channel():
    p = from_dict(_small({"design": "list", "sequence": ["A", "B", "A"], "interval": "10 ms"}))
    c = compiler.compile_protocol(p, 125_000_000)
    assert [(t.index, t.condition, t.onset) for t in c.trials] == [
        (0, "A", 0),
        (1, "B", Fraction(1, 100)),
        (2, "A", Fraction(2, 100)),
    ]
    assert c.channel_times == [
        [0, Fraction(1, 100), Fraction(2, 100)],
        [Fraction(12, 1000)],
    ]
    assert c.channel_cycles == [[0, 1_250_000, 2_500_000], [1_500_000]]
    assert c.channel_widths == [[125_000] * 3, [62_500]]
    a, b = c.program.channels
    # every trial starts a segment; channel 0's raise the marker output; the program ends one
    # width after the last pulse ends (2 750 000 cycles)
    assert (a.delay, a.idle_level, a.segments) == (
        0,
        0,
        [
            (1, 125_000, 0, 1_250_000, 1),
            (1, 125_000, 0, 1_250_000, 1),
            (1, 125_000, 0, 250_000, 1),
        ],
    )
    assert (b.delay, b.idle_level, b.segments) == (1_500_000, 1, [(1, 62_500, 0, 1_250_000, 0)])
    assert [i.trial for i in c.pulse_info[0]] == [0, 1, 2]
    assert c.pulse_info[1] == [compiler.PulseInfo(1, "B", 0.0005, None, None)]
    assert c.duration() == Fraction(21, 1000)  # the last pulse of a: 20 ms + 1 ms


def test_segments_break_where_the_width_changes():
    assert compiler.segments_from_cycles([0, 100, 200, 300], [10, 10, 20, 20], 50, pairs=True) == [
        (2, 10, 100, 100, 0),
        (2, 20, 100, 50, 0),
    ]
    assert compiler.segments_from_cycles([0, 100, 200, 300], [10, 10, 20, 20], 50) == [
        (1, 10, 0, 100, 0),
        (1, 10, 0, 100, 0),
        (1, 20, 0, 100, 0),
        (1, 20, 0, 50, 0),
    ]
    assert compiler.segments_from_cycles([0, 100, 200], 10, 50) == [(3, 10, 100, 50, 0)]


@pytest.mark.parametrize("sysclk", [125_000_000, 133_000_000, 150_000_000])
def test_every_pulse_on_the_nearest_cycle_of_its_exact_time(sysclk):
    c = compiler.compile_protocol(load_file(E2E), sysclk)
    for ci in range(3):
        assert c.channel_cycles[ci] == [
            compiler.nearest_cycle(t, sysclk) for t in c.channel_times[ci]
        ]
        assert list(c.program.channels[ci].onsets()) == c.channel_cycles[ci]
        widths = [s[1] for s in c.program.channels[ci].segments for _ in range(s[0])]
        assert widths == c.channel_widths[ci]
    assert c.max_rounding_error() <= Fraction(1, 2 * sysclk)


def test_marker_codes_as_counts_and_as_widths():
    c = compiler.compile_protocol(load_file(E2E))
    codes = [i.marker for i in c.pulse_info[2]]
    trials = [i.trial for i in c.pulse_info[2]]
    # sici-2ms, test-alone, sici-3ms, test-alone, sici-2ms, sici-3ms: codes 2, 1, 3, 1, 2, 3
    assert trials == [0, 0, 1, 2, 2, 2, 3, 4, 4, 5, 5, 5]
    assert codes == [2, 2, 1, 3, 3, 3, 1, 2, 2, 3, 3, 3]
    assert c.channel_cycles[2][:3] == [0, 500_000, c.channel_cycles[1][1]]
    data = tomllib.loads(open(E2E).read())
    data["channels"][2]["code"] = {"encoding": "width", "unit": "2 ms"}
    c = compiler.compile_protocol(from_dict(data))
    assert c.channel_widths[2] == [
        2 * 250_000,
        1 * 250_000,
        3 * 250_000,
        250_000,
        500_000,
        750_000,
    ]
    assert c.channel_cycles[2] == [compiler.nearest_cycle(t.onset, 125_000_000) for t in c.trials]
    assert c.condition_summary("sici-3ms")["channels"]["eeg"] == {
        "pulses": True,
        "offset_s": 0.0,
        "width_s": 0.006,
        "intensity": None,
        "stimulator": None,
    }


def test_protocols_without_trials_have_no_conditions_and_one_width():
    c = compiler.compile_protocol(from_dict({
        "name": "p", "family": "single-pulse", "pulse_width": "1 ms",
        "intensity": {"percent": 90, "reference": "RMT"},
        "channels": [{"name": "a", "polarity": "active-high"}],
        "onsets": ["0 s", "2 s"],
    }))  # fmt: skip
    assert (c.conditions, c.trials) == ([], [])
    assert c.channel_widths == [[125_000, 125_000]]
    one = compiler.PulseInfo(None, None, 0.001, {"percent": 90, "reference": "RMT"}, None)
    assert c.pulse_info == [[one, one]]
    s = c.summary()
    assert (s["conditions"], s["trials"]) == ([], [])


# ---- show and check ----------------------------------------------------------------------


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_json_lists_conditions_and_trials(capsys):
    code, out, err = _cli(capsys, "show", EXAMPLE, "--json")
    assert (code, err) == (0, "")
    s = json.loads(out)
    assert [c["name"] for c in s["conditions"]] == ["test-alone", "sici-2ms", "sici-3ms"]
    assert s["conditions"][1] == {
        "name": "sici-2ms",
        "marker": 2,
        "channels": {
            "cond": {
                "pulses": True,
                "offset_s": 0.0,
                "width_s": 0.001,
                "intensity": {"percent": 80.0, "reference": "RMT"},
                "stimulator": None,
            },
            "test": {
                "pulses": True,
                "offset_s": 0.002,
                "width_s": 0.001,
                "intensity": {"percent": 120.0, "reference": "RMT"},
                "stimulator": None,
            },
        },
    }
    assert s["conditions"][0]["channels"]["cond"]["pulses"] is False
    assert s["trials"][:2] == [
        {"index": 0, "condition": "sici-2ms", "onset_s": 0.0},
        {"index": 1, "condition": "test-alone", "onset_s": 4.904759107},
    ]
    assert len(s["trials"]) == 30 and s["pulses"] == 50


def test_show_prints_the_trial_table(capsys):
    code, out, _ = _cli(capsys, "show", E2E)
    assert code == 0
    lines = out.splitlines()
    start = lines.index("    trial  condition   onset")
    assert lines[start - 4 : start + 7] == [
        "  condition test-alone (marker 1): test at 0 s 120% RMT",
        "  condition sici-2ms (marker 2): cond at 0 s 80% RMT; test at 2 ms 120% RMT",
        "  condition sici-3ms (marker 3): cond at 0 s 80% RMT; test at 3 ms width 0.5 ms 120% RMT",
        "  trials 6, design random (seed 1993, at most 1 in a row); trial interval uniform "
        "1.1 s to 1.3 s (seed 11)",
        "    trial  condition   onset",
        "        0  sici-2ms    0 s",
        "        1  test-alone  1.190475911 s",
        "        2  sici-3ms    2.402430388 s",
        "        3  test-alone  3.687272505 s",
        "        4  sici-2ms    4.880402519 s",
        "        5  sici-3ms    6.081970774 s",
    ]
    assert "  channel 2 eeg: active-high, role marker (code N = N pulses of 1 ms, 4 ms apart), " \
        "12 pulses" in lines  # fmt: skip


def test_show_shortens_a_long_trial_table(capsys):
    code, out, _ = _cli(capsys, "show", EXAMPLE)
    lines = out.splitlines()
    start = lines.index("    trial  condition   onset")
    table = lines[start + 1 :]
    assert len(table) == 15 + 1 + 5
    assert table[15] == "    ... 10 more trials (--json lists every trial)"
    assert table[-1] == "       29  sici-3ms    141.986777931 s"


def test_check_judges_every_condition_and_names_the_one_that_breaks_a_rule(capsys):
    data = _with(_set(("conditions", 2, "pulses", "test", "intensity"), "130% RMT"))
    p = from_dict(data, "x.toml")
    verdict = safety.evaluate(p)
    refusing = [(f.rule, f.value) for f in verdict.refused()]
    assert refusing == [("family-intensity", "condition sici-3ms: 130% RMT")]
    assert verdict.report_lines()[-1] == "  refused in: condition sici-3ms"
    assert str(verdict.declared) == "each condition's intensity (highest 130% RMT)"
    # the other conditions pass at their own intensities
    passing = [f.value for f in verdict.findings if f.rule == "family-intensity"]
    assert passing == [
        "condition test-alone: 120% RMT",
        "condition sici-2ms: 120% RMT",
        "condition sici-3ms: 130% RMT",
    ]


def test_check_the_whole_sequence_merges_every_trials_head_pulses():
    data = _with(lambda d: d["trials"].update(interval="0.6 s", max_run=1))
    found = safety.check(from_dict(data), None)
    spacing = [(f.outcome, f.value) for f in found if f.rule == "burst-spacing"]
    # max_run = 1: trials of one condition are at least 2 x 0.6 s apart, so each condition
    # passes; the merged sequence has trials 0.6 s apart: refused there
    assert spacing == [
        ("pass", "condition test-alone: bursts 1.2 s apart (onset to onset)"),
        ("pass", "condition sici-2ms: bursts 1.2 s apart (onset to onset)"),
        ("pass", "condition sici-3ms: bursts 1.2 s apart (onset to onset)"),
        ("refuse", "all trials: bursts 0.6 s apart (onset to onset)"),
    ]


def test_marker_pulses_never_count_at_the_head(capsys):
    code, out, _ = _cli(capsys, "check", E2E)
    assert code == 0
    # 6 trials: 4 cond + 6 test pulses at the head; the 12 marker pulses are not among them
    assert "  WARN safety pulse-total: all trials: 10 pulses at the head; limit UNKNOWN" in out
    assert "eeg" not in out  # no stimulator rule for the marker channel
    assert "PASS safety burst-shape: all trials: 2 pulses per burst, shortest interval 2 ms" in out


def test_a_pulse_without_intensity_uses_the_declared_one_or_is_refused_as_input():
    data = _with(lambda d: d["conditions"][0]["pulses"]["test"].pop("intensity"))
    with pytest.raises(InputError) as e:
        safety.evaluate(from_dict(data))
    assert str(e.value) == (
        "conditions.0.pulses.test.intensity: not declared (give it in the file, the "
        "protocol's intensity, or --intensity PCT)"
    )
    verdict = safety.evaluate(from_dict(data), {"intensity": 110})
    values = [f.value for f in verdict.findings if f.rule == "family-intensity"]
    assert values[0] == "condition test-alone: 110% RMT"


def test_a_site_policy_approves_every_pulse_intensity_of_a_trial_protocol(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'site = "lab"\n[[approved]]\nprotocol = "sici-experiment"\nreference = "RMT"\n'
        'intensity = [90, 120]\napproved_by = "committee"\napproved_on = 2026-03-01\n'
    )
    (f,) = [f for f in safety.evaluate(EXAMPLE, {"policy": str(policy)}).findings
            if f.rule == "site-policy"]  # fmt: skip
    # the 120% RMT test pulses are inside 90-120, the 80% RMT conditioning pulses are not
    assert (f.outcome, f.detail) == ("refuse", "80% RMT outside 90-120% RMT")
    policy.write_text(policy.read_text().replace("[90, 120]", "[80, 120]"))
    (f,) = [f for f in safety.evaluate(EXAMPLE, {"policy": str(policy)}).findings
            if f.rule == "site-policy"]  # fmt: skip
    assert f.outcome == "pass"
