"""Protocol files: TOML and JSON, and one exact error line for every kind of bad input."""

import copy
import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proto_helpers import BASE
from tmspio.errors import InputError
from tmspio.protocols import from_dict, load_file, resolve
from tmspio.protocols.model import Jitter

DURATION_HELP = 'a duration string such as "20 ms" (units s, ms, us)'
INTERVAL_HELP = DURATION_HELP[:-1] + ') or a rate such as "10 Hz"'

TOML = """
name = "demo"
family = "rtms"
pulse_width = "1 ms"
channels = [{ name = "tms", polarity = "active-low" }]
intensity = { percent = 110, reference = "RMT" }
stimulator = "magstim-rapid2"

[start]
mode = "gated"
refractory = "2.5 s"

[timing]
inter_pulse_interval = "10 Hz"
pulses_in_burst = 20
trains_in_protocol = 3
"""


def test_toml_and_json_give_the_same_protocol(tmp_path):
    t = tmp_path / "demo.toml"
    t.write_text(TOML)
    p = load_file(str(t))
    j = tmp_path / "demo.json"
    j.write_text(json.dumps(p.model_dump(mode="json", exclude_defaults=True)))
    assert load_file(str(j)) == p
    assert p.timing.inter_pulse_interval == Fraction(1, 10)
    assert p.start.mode == "gated" and p.start.refractory == Fraction(5, 2)
    assert p.channels[0].polarity == "active-low"
    assert p.intensity.percent == 110 and p.intensity.reference == "RMT"


def test_dump_keeps_durations_as_written():
    p = resolve("rtms-0.9hz")
    assert p.model_dump(mode="json")["timing"]["inter_pulse_interval"] == "0.9 Hz"


def _error(data):
    with pytest.raises(InputError) as e:
        from_dict(data, "p.toml")
    return str(e.value)


def _with(path, value):
    data = copy.deepcopy(BASE)
    *parents, last = path
    target = data
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    "path, value, line",
    [
        (
            ("timing", "inter_pulse_interval"),
            "100 mss",
            'timing.inter_pulse_interval = "100 mss": ' + INTERVAL_HELP,
        ),
        (
            ("timing", "inter_pulse_interval"),
            0.1,
            "timing.inter_pulse_interval = 0.1: " + INTERVAL_HELP,
        ),
        (("pulse_width",), "10 Hz", 'pulse_width = "10 Hz": ' + DURATION_HELP),
        (("timing", "pulses_in_burst"), "many", 'timing.pulses_in_burst = "many": an integer'),
        (("timing", "pulses_in_burst"), 0, "timing.pulses_in_burst = 0: a number >= 1"),
        (
            ("timing", "colour"),
            "red",
            'timing.colour = "red": unknown field; allowed here: '
            "inter_pulse_interval, pulses_in_burst, inter_burst_interval, bursts_in_train, "
            "inter_train_interval, trains_in_protocol, inter_train_interval_from",
        ),
        (("pulse_width",), KeyError, "pulse_width: required field missing"),
        (
            ("channels", 0, "polarity"),
            "up",
            "channels.0.polarity = \"up\": one of 'active-high' or 'active-low'",
        ),
        (
            ("timing", "inter_pulse_interval"),
            "0.5 ms",
            'timing.inter_pulse_interval = "0.5 ms": longer than pulse_width (1 ms)',
        ),
        (
            ("timing", "inter_train_interval"),
            "3.9 s",
            'timing.inter_train_interval = "3.9 s": longer than one train plus pulse_width (3.901 s)',
        ),
        (
            ("timing", "inter_pulse_interval"),
            {"uniform": ["2 s", "1 s"], "seed": 1},
            'timing.inter_pulse_interval.uniform = ["2 s", "1 s"]: lowest < highest, with a whole '
            "nanosecond between them",
        ),
        (
            ("timing", "inter_pulse_interval"),
            {"uniform": ["1 s", "2 s"]},
            "timing.inter_pulse_interval.seed: required field missing",
        ),
        (
            ("timing", "inter_pulse_interval"),
            {"uniform": ["1 s", "2 s"], "seed": 1, "x": 2},
            "timing.inter_pulse_interval.x = 2: unknown field; allowed here: uniform, seed",
        ),
        (
            ("timing", "inter_burst_interval"),
            "1 s",
            'timing.inter_burst_interval = "1 s": only allowed when bursts_in_train > 1 (it is 1)',
        ),
        (
            ("timing", "bursts_in_train"),
            2,
            "timing.inter_burst_interval: required when bursts_in_train > 1",
        ),
        (
            ("stimulator",),
            "acme",
            'stimulator = "acme": unknown stimulator; allowed: magstim-200, '
            "magstim-bistim, magstim-rapid2, magstim-rapid2-dual, magventure-magpro, deymed-duomag, "
            "generic-ttl",
        ),
        (("start",), {"mode": "gated"}, 'start.refractory: required when mode = "gated"'),
        (
            ("start",),
            {"mode": "gated", "refractory": "1 s"},
            'timing.inter_train_interval = "30 s": not allowed when start.mode = "gated" (each train '
            "starts on a gate edge)",
        ),
        (
            ("start",),
            {"refractory": "1 s"},
            'start.refractory = "1 s": only allowed when mode = "gated"',
        ),
        (
            ("start",),
            {"mode": "now"},
            "start.mode = \"now\": one of 'immediate', 'trigger' or 'gated'",
        ),
        (
            ("onsets",),
            ["0 s", "1 s"],
            'onsets = ["0 s", "1 s"]: not allowed together with [timing]; give one of them',
        ),
        (
            ("timing",),
            KeyError,
            "timing: required field missing (or give an onsets list, or conditions and trials)",
        ),
        (("channels",), [], "channels = []: 1 to 4 items"),
        (
            ("channels", 0, "offset"),
            "1 ms",
            'channels.0.offset = "1 ms": "0 s" (offsets are measured from channel 0)',
        ),
        (
            ("intensity",),
            {"percent": 120, "reference": "rmt"},
            "intensity.reference = \"rmt\": one of 'RMT', 'AMT' or 'MT'",
        ),
        (
            ("intensity",),
            {"percent": -1, "reference": "RMT"},
            "intensity.percent = -1: a number > 0.0",
        ),
        (
            ("family",),
            "tdcs",
            "family = \"tdcs\": one of 'rtms', 'theta-burst', 'qps', "
            "'paired-pulse', 'pas', 'single-pulse' or 'custom'",
        ),
        (
            ("timing", "trains_in_protocol"),
            30000,
            'timing = "1200000 pulses": at most 1000000 pulses in total',
        ),
        (
            ("colour",),
            1,
            "colour = 1: unknown field; allowed here: name, title, family, citation, "
            "methods, unverified, stimulator, intensity, pulse_width, start, channels, "
            "confirm_channel, timing, onsets, conditions, trials",
        ),
    ],
)
def test_bad_input_is_one_line_naming_field_value_and_allowed(path, value, line):
    assert _error(_with(path, value)) == "p.toml: " + line


def test_jitter_range_must_hold_a_whole_nanosecond():
    data = _with(
        ("timing", "inter_pulse_interval"),
        {"uniform": ["2.0000000001 s", "2.0000000009 s"], "seed": 1},
    )
    assert _error(data) == (
        'p.toml: timing.inter_pulse_interval.uniform = ["2.0000000001 s", '
        '"2.0000000009 s"]: lowest < highest, with a whole nanosecond '
        "between them"
    )


def test_channel_names_must_differ():
    data = _with(
        ("channels",),
        [
            {"name": "a", "polarity": "active-high"},
            {"name": "a", "polarity": "active-high", "offset": "2 ms"},
        ],
    )
    assert _error(data) == 'p.toml: channels.1.name = "a": a name not used by another channel'


def test_confirm_channel_names_a_channel_and_defaults_to_the_first():
    two = [
        {"name": "tms", "polarity": "active-high"},
        {"name": "nerve", "polarity": "active-high", "offset": "2 ms"},
    ]
    data = _with(("channels",), two)
    assert from_dict(data, "p.toml").confirm_index() == 0
    data["confirm_channel"] = "nerve"
    assert from_dict(data, "p.toml").confirm_index() == 1
    data["confirm_channel"] = "tsm"
    assert _error(data) == 'p.toml: confirm_channel = "tsm": a channel name: tms, nerve'
    data["confirm_channel"] = 0
    assert _error(data) == "p.toml: confirm_channel = 0: a string"


def test_onset_lists():
    data = _with(("timing",), KeyError)
    data["onsets"] = ["0 s", "1 s", "1.0005 s"]
    assert _error(data) == (
        'p.toml: onsets.2 = "1.0005 s": more than pulse_width (1 ms) after '
        "the previous onset (1 s)"
    )
    data["onsets"] = ["1 s"]
    assert _error(data) == (
        'p.toml: onsets.0 = "1 s": "0 s" (onsets are measured from the first pulse)'
    )
    data["onsets"] = ["0 s", "250 ms", "1.5 s"]
    assert from_dict(data).onsets == [0, Fraction(1, 4), Fraction(3, 2)]
    data["start"] = {"mode": "gated", "refractory": "2 s"}
    assert _error(data) == (
        'p.toml: start.mode = "gated": immediate or trigger with an onsets '
        "list (gated protocols start each train of [timing] on a gate edge)"
    )


def test_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(InputError) as e:
        load_file(str(bad))
    assert str(e.value) == "bad.toml: TOML syntax error: Invalid value (at line 1, column 8)"
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": }')
    with pytest.raises(InputError) as e:
        load_file(str(bad))
    assert str(e.value) == "bad.json: line 1 column 10: JSON syntax error: Expecting value"
    bad.write_text("[1]")
    with pytest.raises(InputError) as e:
        load_file(str(bad))
    assert str(e.value) == "bad.json: (top level) = [1]: a JSON object"
    other = tmp_path / "p.yaml"
    other.write_text("x")
    with pytest.raises(InputError) as e:
        load_file(str(other))
    assert str(e.value) == "p.yaml: file type '.yaml': allowed .toml or .json"
    with pytest.raises(InputError) as e:
        load_file(str(tmp_path / "missing.toml"))
    assert str(e.value) == "%s: cannot read: No such file or directory" % (
        tmp_path / "missing.toml"
    )
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b'name = "\xff"')
    with pytest.raises(InputError) as e:
        load_file(str(binary))
    assert str(e.value) == "bin.toml: byte 8: not UTF-8 text"


durations = st.builds(
    lambda n, u: "%d %s" % (n, u), st.integers(2, 5000), st.sampled_from(["ms", "us"])
)


@settings(max_examples=60, deadline=None)
@given(
    pulses=st.integers(1, 6),
    bursts=st.integers(1, 4),
    trains=st.integers(1, 4),
    ipi_us=st.integers(1001, 50_000),
    jitter=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_parser_round_trip_and_counts(pulses, bursts, trains, ipi_us, jitter, seed):
    ipi = "%d us" % ipi_us
    timing = {"pulses_in_burst": pulses, "bursts_in_train": bursts, "trains_in_protocol": trains}
    if pulses > 1:
        timing["inter_pulse_interval"] = ipi
    if bursts > 1:
        timing["inter_burst_interval"] = "%d us" % (ipi_us * (pulses + 1))
    if trains > 1:
        train = ipi_us * (pulses + 1) * (bursts + 1)
        timing["inter_train_interval"] = (
            {"uniform": ["%d us" % train, "%d us" % (2 * train)], "seed": seed}
            if jitter
            else "%d us" % train
        )
    data = _with(("timing",), timing)
    p = from_dict(data)
    assert p.timing.pulses() == pulses * bursts * trains
    assert isinstance(p.timing.inter_train_interval, Jitter) == (jitter and trains > 1)
    dumped = p.model_dump(mode="json", exclude_defaults=True)
    assert from_dict(json.loads(json.dumps(dumped))) == p
