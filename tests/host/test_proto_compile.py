"""Compilation to the segment program: exact cycles, no drift, round trip through progformat."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proto_helpers import BASE, protocol
from tmspio import compiler, firmware
from tmspio.errors import InputError
from tmspio.protocols import from_dict, resolve

pf = firmware.progformat()
MARK = pf.FLAG_MARKER


def expand(channel):
    return list(channel.onsets())


def test_itbs_segments_at_125_mhz():
    c = compiler.compile_protocol(resolve("itbs"))
    prog = c.program
    assert prog.sysclk_hz == 125_000_000 and prog.start_mode == pf.START_IMMEDIATE
    (ch,) = prog.channels
    assert (ch.index, ch.idle_level, ch.delay) == (0, 0, 0)
    width, ipi = 125_000, 2_500_000  # 1 ms, 20 ms
    burst_gap = 25_000_000 - 2 * ipi  # next burst 200 ms after this burst's first pulse
    train_gap = 1_250_000_000 - (9 * 25_000_000 + 2 * ipi)  # 10 s train period
    expected = []
    for _train in range(20):
        for burst in range(10):
            gap = burst_gap if burst < 9 else train_gap
            expected.append((3, width, ipi, gap, MARK if burst == 0 else 0))
    expected[-1] = (3, width, ipi, 2 * width, 0)  # program ends one width after the last pulse
    assert ch.segments == expected
    assert expand(ch)[-1] == 191_840 * 125_000  # 191.84 s


def test_0_9_hz_onsets_are_nearest_cycles_without_drift():
    c = compiler.compile_protocol(resolve("rtms-0.9hz"))
    onsets = expand(pf.decode(c.encode()).channels[0])
    period = Fraction(1_250_000_000, 9)  # 10/9 s in cycles, not an integer
    assert onsets == [int(k * period + Fraction(1, 2)) for k in range(810)]
    assert onsets[-1] == 112_361_111_111
    assert c.max_rounding_error() == Fraction(4, 9) / 125_000_000  # worst: 4/9 of a cycle
    # a one-period approximation would drift: round(period) * 809 is 90 cycles late
    assert round(period) * 809 - onsets[-1] == 90


def test_segments_from_cycles_pure_rules():
    seg = compiler.segments_from_cycles
    # a lone pair becomes two one-pulse segments (an interval block packs them) when its
    # period leaves room for a gap (period - width >= MIN_GAP_SLACK = 13); 50 -> 60 does not
    assert seg([0, 10, 20, 35, 50, 60], 2, 4) == [
        (3, 2, 10, 15, 0),
        (1, 2, 0, 15, 0),
        (2, 2, 10, 4, 0),
    ]
    assert seg([0, 10, 20, 35, 50, 70], 2, 4) == [
        (3, 2, 10, 15, 0),
        (1, 2, 0, 15, 0),
        (1, 2, 0, 20, 0),
        (1, 2, 0, 4, 0),
    ]
    # pairs=True (gated: one segment per train) keeps them
    assert seg([0, 10, 20, 35, 50, 70], 2, 4, pairs=True) == [
        (3, 2, 10, 15, 0),
        (2, 2, 15, 20, 0),
        (1, 2, 0, 4, 0),
    ]
    assert seg([0, 10, 20, 30], 2, 4, breaks=[2], marks=[0, 2]) == [
        (2, 2, 10, 10, MARK),
        (2, 2, 10, 4, MARK),
    ]
    assert seg([0], 2, 5) == [(1, 2, 0, 5, 0)]
    big = pf.U32 + 1
    assert seg([0, big, 2 * big], 2, 4) == [(1, 2, 0, big, 0), (1, 2, 0, big, 0), (1, 2, 0, 4, 0)]


def test_multichannel_offsets_become_delays_and_polarity_becomes_idle_level():
    p = protocol(
        channels=[
            {"name": "a", "polarity": "active-high"},
            {"name": "b", "polarity": "active-low", "offset": "2.5 ms"},
        ]
    )
    c = compiler.compile_protocol(p, 1_000_000)
    a, b = c.program.channels
    assert (a.index, a.idle_level, a.delay) == (0, 0, 0)
    assert (b.index, b.idle_level, b.delay) == (1, 1, 2500)
    assert (
        [s[:4] for s in a.segments[:-1]]
        == [s[:4] for s in b.segments[:-1]]
        == [(40, 1000, 100_000, 30_000_000 - 3_900_000)] * 2
    )
    assert (a.segments[-1][3], b.segments[-1][3]) == (2500 + 2000, 2000)
    assert [s[4] for s in a.segments] == [MARK, MARK, MARK]
    assert [s[4] for s in b.segments] == [0, 0, 0]
    end_a = expand(a)[-1] + a.segments[-1][3]
    end_b = expand(b)[-1] + b.segments[-1][3]
    assert end_a == end_b == expand(b)[-1] + 2 * 1000  # both channels end together


def test_start_modes():
    timing = {"inter_pulse_interval": "100 ms", "pulses_in_burst": 40, "trains_in_protocol": 3}
    gated = protocol(start={"mode": "gated", "refractory": "5 s"}, timing=timing)
    c = compiler.compile_protocol(gated, 10_000)
    prog = c.program
    assert (prog.start_mode, prog.refractory) == (pf.START_GATED, 50_000)
    # one segment per gate edge; the schedule shows the densest case, one train per refractory
    assert prog.channels[0].segments == [(40, 10, 1000, 11_000, MARK)] * 2 + [
        (40, 10, 1000, 23, MARK)
    ]
    assert [c.channel_times[0][40 * k] for k in range(3)] == [0, 5, 10]
    trig = compiler.compile_protocol(protocol(start={"mode": "trigger"}), 10_000).program
    assert (trig.start_mode, trig.refractory) == (pf.START_TRIGGER, 0)


def test_gated_rules():
    with pytest.raises(InputError) as e:
        protocol(start={"mode": "gated", "refractory": "5 s"})
    assert str(e.value) == (
        't.toml: timing.inter_train_interval = "30 s": not allowed when '
        'start.mode = "gated" (each train starts on a gate edge)'
    )
    timing = {"inter_pulse_interval": "100 ms", "pulses_in_burst": 40, "trains_in_protocol": 3}
    with pytest.raises(InputError) as e:
        protocol(start={"mode": "gated", "refractory": "3.9 s"}, timing=timing)
    assert str(e.value) == (
        't.toml: start.refractory = "3.9 s": longer than one train plus pulse_width (3.901 s)'
    )
    bursts = {
        "inter_pulse_interval": "20 ms",
        "pulses_in_burst": 3,
        "bursts_in_train": 10,
        "inter_burst_interval": "200 ms",
        "trains_in_protocol": 2,
    }
    p = protocol(start={"mode": "gated", "refractory": "10 s"}, timing=bursts)
    with pytest.raises(InputError) as e:
        compiler.compile_protocol(p)
    assert str(e.value) == (
        't: start.mode = "gated": each gate edge fires one segment, so each '
        "train must be equally spaced pulses; 2 trains compile to 20 "
        "segments at 125000000 Hz"
    )
    tight = protocol(start={"mode": "gated", "refractory": "3.9011 s"}, timing=timing)
    with pytest.raises(InputError) as e:
        compiler.compile_protocol(tight, 100_000)
    assert str(e.value) == (
        "t: start.refractory = 390110 cycles: at least 390122 (delay + "
        "train + width + 22, firmware minimum)"
    )


def test_firmware_minimum_field_values():
    narrow = protocol(pulse_width="30 us")
    with pytest.raises(InputError) as e:
        compiler.compile_protocol(narrow, 100_000)  # 3 cycles
    assert str(e.value) == (
        "t at 100000 Hz: channels.0.segments.0.width = 3 cycles: at least 4 (firmware minimum)"
    )
    close = protocol(
        pulse_width="1 ms", timing={"inter_pulse_interval": "1.04 ms", "pulses_in_burst": 3}
    )
    with pytest.raises(InputError) as e:
        compiler.compile_protocol(close, 100_000)  # width 100, period 104
    assert str(e.value) == (
        "t at 100000 Hz: channels.0.segments.0.period = 104 cycles: at least "
        "width + 5 (firmware minimum)"
    )
    data = dict(BASE, pulse_width="100 us")
    data.pop("timing")
    data["onsets"] = ["0 s", "0.2 ms", "0.4 ms", "0.62 ms"]  # 3 at 20 cycles, gap 22 - 10 < 13
    with pytest.raises(InputError) as e:
        compiler.compile_protocol(from_dict(data), 100_000)
    assert str(e.value) == (
        "t at 100000 Hz: channels.0.segments.0.gap = 22 cycles: at least "
        "width + 13 (firmware minimum)"
    )
    # the program's end: one width after the last pulse, at least the firmware's minimum gap
    c = compiler.compile_protocol(protocol(pulse_width="50 us"), 100_000)
    assert c.program.channels[0].segments[-1][3] == 5 + 13


def test_explicit_onsets_compile_one_segment_per_period_run():
    data = dict(BASE)
    data.pop("timing")
    data["onsets"] = ["0 s", "1 s", "2 s", "2.5 s", "4 s"]
    c = compiler.compile_protocol(from_dict(data), 10_000)
    assert c.program.channels[0].segments == [
        (3, 10, 10_000, 5000, MARK),
        (1, 10, 0, 15_000, 0),  # a lone pair: two one-pulse segments
        (1, 10, 0, 23, 0),
    ]


def test_clock_too_slow_for_the_protocol_is_an_input_error():
    with pytest.raises(InputError) as e:
        compiler.compile_protocol(resolve("itbs"), 100)
    assert str(e.value) == 'itbs: pulse_width = "1 ms": at least one cycle (0.01 s) at 100 Hz'
    with pytest.raises(InputError) as e:
        pair = {"inter_pulse_interval": "1.5 ms", "pulses_in_burst": 2}  # 1.5 ms I-wave pair
        compiler.compile_protocol(protocol(name="itms", timing=pair), 700)
    assert str(e.value) == (
        "itms: channels.0 onset 1 = 0.0015 s: more than one pulse width "
        "(1 cycles) after the previous onset at 700 Hz"
    )
    for bad in (0, -5, 2**32, 1.5e6, "125000000", True):
        with pytest.raises(InputError) as e:
            compiler.compile_protocol(resolve("itbs"), bad)
        assert str(e.value) == "sysclk_hz = %r: an integer 1..4294967295 Hz" % (bad,)


def test_summary_json_fields():
    s = compiler.compile_protocol(resolve("pas25")).summary()
    assert s["pulses"] == 180 and s["sysclk_hz"] == 125_000_000
    assert (s["first_pulse_s"], s["last_pulse_s"], s["duration_s"]) == (0.0, 1780.025, 1780.026)
    assert s["segments"] == 180 and s["max_rounding_error_s"] == 0.0
    assert [(ch["name"], ch["pulses"], ch["onsets_s"][:2]) for ch in s["channels"]] == [
        ("nerve", 90, [0.0, 20.0]),
        ("tms", 90, [0.025, 20.025]),
    ]
    assert s["unverified"] == list(resolve("pas25").unverified)
    # the TMS stimulator's trigger-out is wired back, not the nerve stimulator's
    assert s["confirm_channel"] == "tms"
    assert compiler.compile_protocol(resolve("pas25")).confirm_channel == 1
    # sici: the test stimulator pulses in every trial, so its trigger-out is the one wired back
    assert compiler.compile_protocol(resolve("sici")).summary()["confirm_channel"] == "test"
    assert compiler.compile_protocol(resolve("itms")).summary()["confirm_channel"] == "first"


timings = st.fixed_dictionaries(
    {
        "pulses": st.integers(1, 5),
        "bursts": st.integers(1, 4),
        "trains": st.integers(1, 4),
        "ipi_us": st.integers(1_100, 40_000),
        "ibi_extra_us": st.integers(1_100, 300_000),
        "iti_extra_us": st.integers(1_100, 3_000_000),
        "jitter": st.booleans(),
        "seed": st.integers(0, 2**40),
        "offset_us": st.integers(0, 20_000),
        "sysclk": st.sampled_from(
            [
                1_000_000,
                12_000_000,
                48_000_000,
                125_000_000,
                133_000_000,
                150_000_000,
                200_000_000,
                3_333_333,
            ]
        ),
    }
)


def _protocol_from(t):
    timing = {
        "pulses_in_burst": t["pulses"],
        "bursts_in_train": t["bursts"],
        "trains_in_protocol": t["trains"],
    }
    burst = (t["pulses"] - 1) * t["ipi_us"]
    ibi = burst + t["ibi_extra_us"]
    train = (t["bursts"] - 1) * ibi + burst
    iti = train + t["iti_extra_us"]
    if t["pulses"] > 1:
        timing["inter_pulse_interval"] = "%d us" % t["ipi_us"]
    if t["bursts"] > 1:
        timing["inter_burst_interval"] = "%d us" % ibi
    if t["trains"] > 1:
        timing["inter_train_interval"] = (
            {"uniform": ["%d us" % iti, "%d us" % (iti + 777_777)], "seed": t["seed"]}
            if t["jitter"]
            else "%d us" % iti
        )
    channels = [{"name": "a", "polarity": "active-high"}]
    if t["offset_us"]:
        channels.append(
            {"name": "b", "polarity": "active-low", "offset": "%d us" % t["offset_us"]}
        )
    return from_dict(dict(BASE, timing=timing, channels=channels)), ibi, iti


@settings(max_examples=150, deadline=None)
@given(timings)
def test_compiled_onsets_are_the_nearest_cycle_to_exact_time(t):
    p, ibi_us, iti_us = _protocol_from(t)
    c = compiler.compile_protocol(p, t["sysclk"])
    f = t["sysclk"]
    data = c.encode()
    back = pf.decode(data)
    assert back == c.program and pf.encode(back) == data
    n = t["pulses"] * t["bursts"] * t["trains"]
    assert back.pulses() == n * len(p.channels)
    # independent closed form: train start (drawn or fixed) + b*IBI + p*IPI
    draws = [d.value for d in c.schedule.draws]
    assert len(draws) == (t["trains"] - 1 if t["jitter"] else 0)
    starts = [Fraction(0)]
    for k in range(1, t["trains"]):
        starts.append(starts[-1] + (draws[k - 1] if t["jitter"] else Fraction(iti_us, 10**6)))
    exact = [
        s + b * Fraction(ibi_us, 10**6) + q * Fraction(t["ipi_us"], 10**6)
        for s in starts
        for b in range(t["bursts"])
        for q in range(t["pulses"])
    ]
    for ci, ch in enumerate(p.channels):
        want = [int((e + ch.offset) * f + Fraction(1, 2)) for e in exact]
        assert list(back.channels[ci].onsets()) == want
        assert all(
            abs(Fraction(w, f) - (e + ch.offset)) <= Fraction(1, 2 * f)
            for w, e in zip(want, exact)
        )
    assert c.max_rounding_error() <= Fraction(1, 2 * f)
    # marker on channel 0 with each train's first pulse, nowhere else
    marked = sum(1 for s in back.channels[0].segments if s[4] & MARK)
    assert marked == t["trains"]
    for d in c.schedule.draws:
        assert Fraction(iti_us, 10**6) <= d.value <= Fraction(iti_us + 777_777, 10**6)
