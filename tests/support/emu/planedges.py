# Test-side expectations built from the firmware's plan (tests only, never on the board): the pad
# edges of planned onsets, the marker's edges, and what the capture reports for pad edges.
# Common subset of CPython and MicroPython (puretests.py runs under both).
import plan
import timing as T

_MASK = 0xFFFFFFFF
_EPOCH = 1 << 32


def pad_edges(onsets, idle=0):
    """[(cycle, level)] of one output from its onsets; level is the pad level after the edge."""
    out = []
    for t, width, _marker in onsets:
        out.append((t, 1 - idle))
        out.append((t + width, idle))
    return out


def marker_edges(prog, start, triggers=()):
    out = []
    for ci in range(len(prog.channels)):
        for t, width, marker in plan.channel_onsets(prog, ci, start, triggers):
            if marker:
                out.append((t, 1))
                out.append((t + width, 0))
    out.sort()
    return out


def capture_expected(edges, c0, idle):
    """What the capture reports for pad `edges` [(cycle, level)] when its SM starts at c0.

    Simulates the sampling grid (every 2 cycles, 4 across a wrap report): an edge is reported
    at the first sample that sees it, minus CAPTURE_LATENCY. Used by the tests as the exact
    expectation; edges closer than MIN_WIDTH are not resolved (the generator never makes them)."""
    out = []
    t = c0  # next sample cycle
    d = 1
    level = idle
    for cycle, new in edges:
        if new == level:
            continue
        target = cycle + T.CAPTURE_LATENCY  # first sample cycle that can see it
        while True:
            j = 0 if target <= t else (target - t + 1) // 2
            j_wrap = (-d - 1) % _EPOCH  # loop slot whose decrement wraps Y
            if j <= j_wrap:
                t += 2 * j
                d += j
                out.append((t - T.CAPTURE_LATENCY, new))
                t += 2  # event slot: no decrement
                level = new
                break
            t += 2 * (j_wrap + 1) + 2  # loop slots up to the wrap, then the marker slot
            d += j_wrap + 2
    return out
