"""A test double of the firmware Engine (docs/architecture.md §5) for the command-loop tests.

It decodes programs with the real progformat, keeps the contract's states and records every call,
so a test can assert that no byte sequence reached arm() or start() out of order. Edges are the
planned rising/falling edges of every channel, released as the test advances `now` (cycles).
"""

# firmware/ is on sys.path (conftest): the real format module and the firmware's own error class
import progformat
from fwerror import FirmwareError


class FakeEngine:
    def __init__(self, board_cfg=None):
        self.calls = []
        self.state = "idle"
        self.program = None
        self.now = 0
        self.start_cycle = None
        self.edges = []
        self.sent = 0
        self.reason = None

    def load(self, data, progress=None, owned=False):
        self.calls.append("load")
        if self.state in ("armed", "running"):
            raise FirmwareError("busy", "load while " + self.state)
        try:
            self.program = progformat.decode(data)
        except progformat.FormatError as e:
            raise FirmwareError("format", str(e)) from None
        self.state = "loaded"

    def arm(self):
        self.calls.append("arm")
        if self.state not in ("loaded", "done", "stopped"):
            raise FirmwareError("order", "arm while " + self.state)
        self.state = "armed"

    def start(self):
        self.calls.append("start")
        if self.state != "armed":
            raise FirmwareError("order", "start while " + self.state)
        self.state = "running"
        self.start_cycle = self.now
        self.edges = []
        for ch in self.program.channels:
            onsets = list(ch.onsets())
            widths = [seg[1] for seg in ch.segments for _ in range(seg[0])]
            for t, w in zip(onsets, widths):
                self.edges.append((ch.index, 1, self.start_cycle + t))
                self.edges.append((ch.index, 0, self.start_cycle + t + w))
        self.edges.sort(key=lambda e: e[2])

    def stop(self, reason):
        self.calls.append("stop")
        if self.state in ("armed", "running"):
            self.edges = [e for e in self.edges if e[2] <= self.now]
            self.state = "stopped"
            self.reason = reason

    def poll(self):
        out = []
        while self.sent < len(self.edges) and self.edges[self.sent][2] <= self.now:
            out.append(self.edges[self.sent])
            self.sent += 1
        if self.state == "running" and self.sent == len(self.edges):
            self.state = "done"
        return out

    def delivered(self):
        return sum(1 for e in self.edges[: self.sent] if e[1] == 1)

    def status(self):
        planned = self.program.pulses() if self.program else 0
        return {
            "state": self.state,
            "pulses_planned": planned,
            "pulses_delivered": self.delivered(),
            "reason": self.reason,
            "faults": [],
            "start_cycle": self.start_cycle,
        }
