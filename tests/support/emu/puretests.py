# Unit tests of the firmware's pure modules, in the common subset: pytest runs them under CPython
# (tests/firmware/test_pure.py) and, through a subprocess, under the MicroPython unix port.
import capture
import limits
import plan
import progformat as pf
import progview
import timing as T
import words
from fwerror import FirmwareError

BASE = 5  # where the 27-instruction generator lands when loaded alone (top of memory)
C = 125000000


def wait_cost(ws):
    """Cycles of a stream of wait words (the inverse of words.wait_words)."""
    total = 0
    long_next = False
    for w in ws:
        assert 0 <= w <= 0xFFFFFFFF
        if long_next:
            total += w + T.WAIT_LONG_OVERHEAD
            long_next = False
        elif w & 31 == BASE + T.GEN_WAIT_LONG:
            long_next = True
        else:
            assert w & 31 == BASE + T.GEN_WAIT, w
            total += (w >> 5) + T.WAIT_OVERHEAD
    return total


def test_segment_words_golden():
    prog = pf.Program(C, [pf.Channel(0, 0, 0, [(3, 2500, 2500000, 25000000, pf.FLAG_MARKER)])])
    got = list(words.channel_words(prog, 0, BASE))
    # wait(0 + 4): pc 30, X 0 | segment: pc 5, marker (bit 5 = 0), count-1 = 2 in bits 31:6 |
    # R_l = 2500000 - 2500 - 5 | R_w = 2500 - 3 | wait(gap - width - 9) | end: pc 26
    assert got == [30, 5 | 2 << 6, 2497495, 2497, 30 | (25000000 - 2509 - 4) << 5, 26], got


def test_segment_words_no_marker_single_pulse():
    assert words.segment_words((1, 4, 0, 17, 0), BASE) == [5 | 1 << 5, 0, 1]


def test_wait_words_split():
    for total in (
        4,
        5,
        1000,
        (1 << 27) + 3,
        (1 << 27) + 4,
        (1 << 27) + 5,
        1 << 32,
        (1 << 32) + 9,
        3 << 33,
        (1 << 48) + 12345,
    ):
        assert wait_cost(words.wait_words(total, BASE)) == total, total
    assert list(words.wait_words((1 << 27) + 4, BASE)) == [BASE + 22, (1 << 27) - 6, BASE + 25]


def test_wait_too_short():
    try:
        list(words.wait_words(3, BASE))
    except FirmwareError as e:
        assert e.text == "wait = 3: at least 4 cycles", e.text
    else:
        raise AssertionError("no error")


def _refusal(prog, ci=0):
    try:
        words.check_channel(prog, ci)
    except FirmwareError as e:
        return e.code + ": " + e.text
    return None


def test_minimums():
    ok = pf.Program(C, [pf.Channel(0, 0, 0, [(2, 4, 9, 17, 0)])])
    assert _refusal(ok) is None
    assert _refusal(pf.Program(C, [pf.Channel(0, 0, 0, [(2, 3, 9, 17, 0)])])) == (
        "timing: channels[0].segments[0].width = 3: at least 4 cycles"
    )
    assert _refusal(pf.Program(C, [pf.Channel(0, 0, 0, [(2, 4, 8, 17, 0)])])) == (
        "timing: channels[0].segments[0].period = 8: at least width + 5 = 9 cycles"
    )
    assert _refusal(pf.Program(C, [pf.Channel(0, 0, 0, [(2, 4, 9, 16, 0)])])) == (
        "timing: channels[0].segments[0].gap = 16: at least width + 13 = 17 cycles"
    )


def test_gated_refractory_minimum():
    seg = (3, 100, 1000, 500, 0)
    need = 7 + 2 * 1000 + max(500, 100 + 22)
    prog = pf.Program(C, [pf.Channel(0, 0, 7, [seg])], pf.START_GATED, need)
    assert _refusal(prog) is None
    prog.refractory = need - 1
    assert _refusal(prog) == (
        "timing: refractory = %d: at least delay + (count-1)*period + max(gap, width + 22) = "
        "%d cycles for channels[0].segments[0]" % (need - 1, need)
    )


def test_marker_on_one_channel_only():
    a = pf.Channel(0, 0, 0, [(1, 10, 0, 100, 1)])
    b = pf.Channel(1, 0, 0, [(1, 10, 0, 100, 0), (1, 10, 0, 100, 1)])
    try:
        words.marker_channel(pf.Program(C, [a, b]))
    except FirmwareError as e:
        assert e.text == (
            "channels[1].segments flags = marker: the marker output is already "
            "raised by channels[0]; allowed: marker flags on one channel"
        ), e.text
    else:
        raise AssertionError("no error")
    assert words.marker_channel(pf.Program(C, [b])) == 0


def test_plan_immediate():
    prog = pf.Program(C, [pf.Channel(0, 1, 50, [(2, 10, 100, 1000, 1), (1, 20, 0, 500, 0)])])
    ons = plan.channel_onsets(prog, 0, 1000)
    first = 1000 + T.ONSET_LATENCY + T.OUTPUT_LATENCY + 50
    assert ons == [(first, 10, True), (first + 100, 10, False), (first + 1100, 20, False)]
    assert plan.pad_edges(ons, 1) == [
        (first, 0),
        (first + 10, 1),
        (first + 100, 0),
        (first + 110, 1),
        (first + 1100, 0),
        (first + 1120, 1),
    ]


def test_plan_gated_refractory():
    seg = (1, 10, 0, 100, 0)
    prog = pf.Program(C, [pf.Channel(0, 0, 0, [seg, seg, seg])], pf.START_GATED, 1000)
    acc = plan.accepted_triggers(prog, 100, [99, 100, 500, 1099, 1100, 2100, 3100])
    assert acc == [100, 1100, 2100]


def test_capture_roundtrip():
    # decode(what the SM would push) == expected(); pushes simulated from the slot model
    edges = [(10, 1), (14, 0), (21, 1), (25, 0), (1000, 1), (1004, 0)]
    exp = capture.expected(edges, 3, 0)
    assert exp == [(10, 1), (14, 0), (22, 1), (26, 0), (1000, 1), (1004, 0)], exp


def test_capture_decoder_wraps():
    dec = capture.PinDecoder(0, 0)
    out = []
    dec.feed(0xFFFFFFFE - 5, out)  # D = 6: sample at 2 * (6 - 1 + 0) = 10
    dec.feed(0xFFFFFFFF, out)  # wrap marker
    dec.feed(0xFFFFFFFF - 2, out)  # D = 2**32 + 2, one event before
    assert out == [(10 - 3, 1), (2 * ((1 << 32) + 1 + 1) - 3, 0)], out


def test_capture_expected_across_wrap():
    # an edge two wraps (2 * 2**33 cycles) later; worked by hand from the slot model:
    # edge 1 sampled at 504 with D = 253; two markers; edge 2 sampled at 2**34 + 1004 with
    # D = 2**33 + 502 (one event slot in between)
    far = (1 << 34) + 1001
    exp = capture.expected([(500, 1), (far, 0)], 0, 0)
    assert exp == [(501, 1), (far, 0)], exp
    dec = capture.PinDecoder(0, 0)
    out = []
    for w in (0xFFFFFFFF - 253, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF - 502):
        dec.feed(w, out)
    assert out == exp, out


LIM = {
    "min_width_us": 10,
    "max_width_us": 10000,
    "min_interval_us": 1000,
    "max_pulses": 100000,
    "max_rate_hz": 100,
    "max_rate_window_s": 10,
}


def _limit(segs, lim=LIM, mode=0, refr=0):
    try:
        limits.check(pf.Program(C, [pf.Channel(0, 0, 0, segs)], mode, refr), lim)
    except FirmwareError as e:
        return e.code + ": " + e.text
    return None


def test_limits_each_refusal():
    assert _limit([(40, 125000, 12500000, 3262500000, 0)]) is None
    assert _limit([(1, 1249, 0, 125000, 0)]) == (
        "limit: channels[0].segments[0].width = 1249 cycles (9.992 us) is below "
        "limits.min_width_us = 10 us"
    )
    assert _limit([(1, 1250001, 0, 2500000, 0)]) == (
        "limit: channels[0].segments[0].width = 1250001 cycles (10000.008 us) is above "
        "limits.max_width_us = 10000 us"
    )
    assert _limit([(2, 1250, 124999, 250000, 0)]) == (
        "limit: channels[0].segments[0].period = 124999 cycles (999.992 us) is below "
        "limits.min_interval_us = 1000 us"
    )
    assert _limit([(1, 1250, 0, 124999, 0), (1, 1250, 0, 125000, 0)]) == (
        "limit: channels[0] onset 1 interval = 124999 cycles (999.992 us) is below "
        "limits.min_interval_us = 1000 us"
    )
    lim = dict(LIM)
    lim["max_pulses"] = 599
    assert _limit([(600, 1250, 125000, 250000, 0)], lim) == (
        "limit: pulses = 600 is above limits.max_pulses = 599 pulses"
    )
    # 1001 pulses at 1 ms: more than 100 Hz * 10 s within 10 s
    assert _limit([(1001, 1250, 125000, 250000, 0)]) == (
        "limit: channels[0]: 1001 pulses within 10 s (onsets 0..1000) exceed "
        "limits.max_rate_hz = 100 over limits.max_rate_window_s = 10"
    )
    assert _limit([(1000, 1250, 125000, 250000, 0)]) is None


def test_limits_tick_every_1024_onsets():
    ticks = []
    prog = pf.Program(C, [pf.Channel(0, 0, 0, [(40, 125000, 12500000, 3262500000, 0)] * 75)])
    limits.check(prog, LIM, lambda: ticks.append(1))
    assert len(ticks) == 2  # 3000 onsets: after the 1024th and the 2048th


def test_progview_matches_progformat():
    prog = pf.Program(
        C,
        [
            pf.Channel(2, 1, 77, [(3, 10, 100, 1 << 40, 1), (1, 5, 0, 50, 0)]),
            pf.Channel(0, 0, 0, [(1, 4, 0, 17, 0)]),
        ],
        pf.START_GATED,
        999,
    )
    data = pf.encode(prog)
    view = progview.decode(data)
    full = pf.decode(data)
    assert (view.sysclk_hz, view.start_mode, view.refractory) == (C, pf.START_GATED, 999)
    for cv, cf in zip(view.channels, full.channels):
        assert (cv.index, cv.idle_level, cv.delay) == (cf.index, cf.idle_level, cf.delay)
        assert list(cv.segments) == cf.segments and len(cv.segments) == len(cf.segments)
        assert cv.segments[-1] == cf.segments[-1]
    assert view.pulses() == 5
    for bad in (data[:-1] + bytes([data[-1] ^ 1]), data[:20], data[:-5] + data[-4:]):
        errs = []
        for dec in (progview.decode, pf.decode):
            try:
                dec(bad)
                errs.append(None)
            except pf.FormatError as e:
                errs.append(str(e))
        assert errs[0] == errs[1] and errs[0] is not None, errs


def run_all():
    n = 0
    for name in sorted(globals()):
        if name.startswith("test_"):
            globals()[name]()
            n += 1
    print("PASS %d" % n)


if __name__ == "__main__":
    run_all()
