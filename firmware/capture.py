# Capture timestamps: words pushed by pioprogs.edge_capture -> 64-bit edge cycles. Pure.
# (The exact expectation of a capture for planned edges is tests/firmware/emu/planedges.py.)
#
# The capture state machine decrements Y once per 2-cycle slot (sampling loops and the wrap
# report) and not in the 2-cycle slot of an event. With D = 1 + decrements so far (Y starts at
# 0xFFFFFFFE = 0xFFFFFFFF - 1), a sample happens at  c0 + 2 * ((D - 1) + events so far),  where
# c0 is the state machine's first cycle. An event pushes Y = 0xFFFFFFFF - (D mod 2**32), which is
# never 0xFFFFFFFF; when D reaches a multiple of 2**32 the SM pushes the marker 0xFFFFFFFF, so
# D = markers * 2**32 + (0xFFFFFFFF - Y) exactly, however long the run.
import timing as T

_MASK = 0xFFFFFFFF
_EPOCH = 1 << 32


class PinDecoder:
    """Turns one capture SM's words into (cycle, level) pad edges (cycle in the capture clock)."""

    def __init__(self, idle, c0=0):
        self.level = idle  # level the SM is waiting to leave
        self.c0 = c0
        self.markers = 0
        self.events = 0

    def feed(self, word, out):
        word &= _MASK
        if word == T.CAP_WRAP_MARK:
            self.markers += 1
            return
        d = self.markers * _EPOCH + (_MASK - word)
        sample = self.c0 + T.CAP_SLOT * (d - 1 + self.events)
        self.events += 1
        self.level = 1 - self.level
        out.append((sample - T.CAPTURE_LATENCY, self.level))
