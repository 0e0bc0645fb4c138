# MicroPython test double of the Engine API (docs/architecture.md §5). Edges are the program's
# planned edges; they become visible as `SPEED` x real time passes after start().
import time

import progformat
from fwerror import FirmwareError  # the firmware's own class: one error contract

SPEED = 200  # board seconds per real second, unless the board file sets "fake_speed"


class FakeEngine:
    def __init__(self, cfg):
        self.sysclk = cfg["sysclk_hz"]
        self.speed = cfg.get("fake_speed", SPEED)
        self.state = "idle"
        self.program = None
        self.edges = []
        self.sent = 0
        self.reason = None
        self.t0 = 0
        self.start_cycle = None
        self.stop_cycle = None
        self.delivered = 0
        # a slow board's check: load() takes this many real seconds, telling progress() every
        # 0.1 s unless "fake_check_silent" (a firmware without keep-alives)
        self.check_s = cfg.get("fake_check_s", 0)
        self.check_silent = cfg.get("fake_check_silent", False)

    def _now(self):
        return time.ticks_diff(time.ticks_ms(), self.t0) * self.speed * (self.sysclk // 1000)

    def load(self, data, progress=None, owned=False):
        if self.state in ("armed", "running"):
            raise FirmwareError("busy", "load while " + self.state)
        try:
            self.program = progformat.decode(data)
        except progformat.FormatError as e:
            raise FirmwareError("format", str(e)) from None
        steps = int(self.check_s * 10)
        total = self.program.pulses()
        for k in range(steps):
            time.sleep_ms(100)
            if progress is not None and not self.check_silent:
                progress(total * (k + 1) // steps, total)
        self.state = "loaded"

    def arm(self):
        if self.state not in ("loaded", "done", "stopped"):
            raise FirmwareError("order", "arm while " + self.state)
        self.state = "armed"

    def start(self):
        if self.state != "armed":
            raise FirmwareError("order", "start while " + self.state)
        self.t0 = time.ticks_ms()
        self.start_cycle = 1000
        edges = []
        for ch in self.program.channels:
            widths = []
            for seg in ch.segments:
                for _ in range(seg[0]):
                    widths.append(seg[1])
            active = 1 - ch.idle_level
            k = 0
            for t in ch.onsets():
                edges.append((1000 + t, ch.index, active))
                edges.append((1000 + t + widths[k], ch.index, ch.idle_level))
                k += 1
        edges.sort()
        self.edges = edges
        self.sent = 0
        self.delivered = 0
        self.idle = {}
        for ch in self.program.channels:
            self.idle[ch.index] = ch.idle_level
        self.state = "running"

    def stop(self, reason):
        if self.state in ("armed", "running"):
            self.stop_cycle = self._now()
            self.state = "stopped"
            self.reason = reason

    def poll(self):
        limit = self.stop_cycle if self.state == "stopped" else self._now()
        out = []
        while self.sent < len(self.edges) and self.edges[self.sent][0] <= limit:
            cycle, ch, level = self.edges[self.sent]
            if level != self.idle[ch]:
                self.delivered += 1
            out.append(("ch%d" % ch, level, cycle))  # the engine's source names (wire's)
            self.sent += 1
        if self.state == "running" and self.sent == len(self.edges):
            self.state = "done"
        return out

    def status(self):
        return {
            "state": self.state,
            "pulses_planned": self.program.pulses() if self.program else 0,
            "pulses_delivered": self.delivered,
            "reason": self.reason,
            "faults": [],
            "start_cycle": self.start_cycle,
        }
