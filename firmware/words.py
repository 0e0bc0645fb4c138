# Word builder: segment program -> the 32-bit FIFO words of each channel's pulse generator.
# Pure (no rp2/machine); the cycle arithmetic is in timing.py and docs/program-format.md.
#
# Command words (bits 4:0 = absolute PC the generator jumps to with `out pc, 5`):
#   segment   pc(SEG) | (1 - marker) << 5 | (count - 1) << 6,  then R_l,  then R_w
#             R_w = width - 3, R_l = period - width - 5 (0 when count == 1)
#   wait      pc(WAIT) | X << 5                 lasts X + 4 cycles, X < 2**27
#   long wait pc(WAIT_LONG), then X             lasts X + 6 cycles, X < 2**32
#   trigger   pc(TRIG_RISING or TRIG_FALLING)   waits for an edge of trigger_in
#   end       pc(END)                           parks the generator, output idle
# Stream per channel: [trigger] wait(delay + 4) seg0 wait(gap0 - width0 - 9) seg1 ... end
# (gated: [trigger] wait(delay + 4) seg_k wait(refractory - delay - (count-1)*period - width - 18)
#  before every segment).
import timing as T
from fwerror import FirmwareError
from progformat import (
    FLAG_MARKER,
    S_CMAX,
    S_LOWMIN,
    S_MARKER,
    S_SLACKMIN,
    S_WMIN,
    START_GATED,
    START_IMMEDIATE,
    SegView,
    record_segments,
    records,
)


def _fail(field, value, allowed):
    raise FirmwareError("timing", "%s = %r: %s" % (field, value, allowed))


def wait_words(total, base):
    """Words for a wait of exactly `total` cycles (>= MIN_WAIT), long waits first. A generator:
    the longest wait (2**48 cycles) is 65537 commands, streamed rather than held in RAM."""
    if total < T.MIN_WAIT:
        _fail("wait", total, "at least %d cycles" % T.MIN_WAIT)
    while total - T.WAIT_OVERHEAD > T.WAIT_SHORT_MAX:
        # leave at least MIN_WAIT cycles for the closing short wait
        x = total - T.WAIT_LONG_OVERHEAD - T.MIN_WAIT
        if x > T.WAIT_LONG_MAX:
            x = T.WAIT_LONG_MAX
        yield base + T.GEN_WAIT_LONG
        yield x
        total -= x + T.WAIT_LONG_OVERHEAD
    yield (base + T.GEN_WAIT) | ((total - T.WAIT_OVERHEAD) << 5)


def segment_words(seg, base):
    count, width, period, gap, flags = seg
    r_l = period - width - T.LOW_OVERHEAD if count > 1 else 0
    head = (base + T.GEN_SEG) | ((0 if flags & FLAG_MARKER else 1) << 5) | ((count - 1) << 6)
    return [head, r_l, width - T.WIDTH_OVERHEAD]


def check_channel(prog, ci):
    """Raise FirmwareError naming the field if the generator cannot play channel ci exactly.
    One step per record: an interval block whose smallest gap leaves the minimum slack is
    playable as a whole; otherwise its segments are looked at one by one."""
    ch = prog.channels[ci]
    name = "channels[%d]" % ci
    gated = prog.start_mode == START_GATED
    segs = ch.segments
    if isinstance(segs, SegView) and not gated:
        sm = segs.summary
        if (
            sm[S_WMIN] >= T.MIN_WIDTH
            and sm[S_CMAX] <= T.MAX_COUNT
            and sm[S_LOWMIN] >= T.MIN_LOW
            and sm[S_SLACKMIN] >= T.MIN_GAP_SLACK
        ):
            return  # from the records' summary: every segment is playable
    si = 0
    for rec in records(segs):
        if rec[5] is None or gated or rec[3] - rec[1] < T.MIN_GAP_SLACK or rec[1] < T.MIN_WIDTH:
            for seg in record_segments(segs, rec):
                _check_segment(prog, ch, gated, "%s.segments[%d]" % (name, si), seg)
                si += 1
        else:
            si += rec[0]


def _check_segment(prog, ch, gated, sname, seg):
    count, width, period, gap, flags = seg
    if count > T.MAX_COUNT:
        _fail(sname + ".count", count, "at most %d pulses per segment" % T.MAX_COUNT)
    if width < T.MIN_WIDTH:
        _fail(sname + ".width", width, "at least %d cycles" % T.MIN_WIDTH)
    if count > 1 and period - width < T.MIN_LOW:
        _fail(
            sname + ".period",
            period,
            "at least width + %d = %d cycles" % (T.MIN_LOW, width + T.MIN_LOW),
        )
    if gated:
        busy = ch.delay + (count - 1) * period
        need = busy + max(gap, width + T.GATED_SLACK)
        if prog.refractory < need:
            _fail(
                "refractory",
                prog.refractory,
                "at least delay + (count-1)*period + max(gap, width + %d) = %d cycles "
                "for %s" % (T.GATED_SLACK, need, sname),
            )
    elif gap - width < T.MIN_GAP_SLACK:
        _fail(
            sname + ".gap",
            gap,
            "at least width + %d = %d cycles" % (T.MIN_GAP_SLACK, width + T.MIN_GAP_SLACK),
        )


def marker_channel(prog):
    """Index (in prog.channels) of the one channel whose segments raise the marker, or -1."""
    found = -1
    for ci, ch in enumerate(prog.channels):
        if isinstance(ch.segments, SegView) and not ch.segments.summary[S_MARKER]:
            continue
        for seg in records(ch.segments):  # a block's flags are every one of its segments'
            if seg[4] & FLAG_MARKER:
                if found >= 0 and found != ci:
                    raise FirmwareError(
                        "timing",
                        "channels[%d].segments flags = marker: the marker output is "
                        "already raised by channels[%d]; allowed: marker flags on one channel"
                        % (ci, found),
                    )
                found = ci
    return found


def channel_words(prog, ci, base, trig_falling=False):
    """Generator over channel ci's FIFO words; `base` is the generator's load offset."""
    ch = prog.channels[ci]
    mode = prog.start_mode
    trig = base + (T.GEN_TRIG_FALLING if trig_falling else T.GEN_TRIG_RISING)
    gated = mode == START_GATED
    si = 0
    for seg in ch.segments:
        if seg is None:  # a stream whose next piece has not arrived: nothing more yet
            yield None
            continue
        count, width, period, gap, flags = seg
        if si == 0 or gated:
            if mode != START_IMMEDIATE:
                yield trig
            for w in wait_words(ch.delay + T.WAIT_OVERHEAD, base):
                yield w
        for w in segment_words(seg, base):
            yield w
        if gated:
            after = prog.refractory - ch.delay - (count - 1) * period - width - T.GATED_OVERHEAD
        else:
            after = gap - width - T.SEG_TAIL - T.SEG_LEAD
        for w in wait_words(after, base):
            yield w
        si += 1
    yield base + T.GEN_END
