# Planned pad edges of a segment program: what the generators must put on the pins, to the cycle.
# Pure; used by the engine (pulses planned), the tests and the host to compare with the capture.
import timing as T
from progformat import FLAG_MARKER, START_GATED, START_IMMEDIATE


def accepted_triggers(prog, start, triggers):
    """Gated/trigger mode: the rising trigger_in pad cycles the generators accept.

    start: the generators' first cycle; triggers: sorted pad cycles of the active edges (each
    followed by the opposite edge before the generator re-arms)."""
    out = []
    armed = start  # an edge at pad cycle >= armed is accepted
    n = 1
    if prog.start_mode == START_GATED:
        n = 0
        for ch in prog.channels:
            n = max(n, len(ch.segments))
    for d in triggers:
        if len(out) == n:
            break
        if d >= armed:
            out.append(d)
            armed = d + prog.refractory
    return out


def channel_onsets(prog, ci, start, triggers=()):
    """Onset pad cycles of channel ci as a list of (cycle, width, marker) tuples."""
    return list(iter_onsets(prog, ci, start, triggers))


def iter_onsets(prog, ci, start, triggers=()):
    """channel_onsets() one at a time (the limit check walks 100 000 pulses in little RAM)."""
    ch = prog.channels[ci]
    if prog.start_mode == START_IMMEDIATE:
        t = start + T.ONSET_LATENCY + T.OUTPUT_LATENCY + ch.delay
        bases = None
    else:
        acc = accepted_triggers(prog, start, triggers)
        if not acc:
            return
        t = acc[0] + T.TRIGGER_LATENCY + ch.delay
        bases = acc
    si = -1
    for count, width, period, gap, flags in ch.segments:
        si += 1
        if prog.start_mode == START_GATED:
            if si >= len(bases):
                break
            t = bases[si] + T.TRIGGER_LATENCY + ch.delay
        for k in range(count):
            yield (t, width, k == 0 and flags & FLAG_MARKER != 0)
            if k < count - 1:
                t += period
        t += gap
