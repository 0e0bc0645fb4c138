# The test double of the firmware Engine (docs/architecture.md §5), in the common subset of
# CPython and MicroPython: the command-loop tests drive it in-process, and the fake board runs it
# as firmware on the MicroPython unix port (main.py here). It decodes programs with the real
# progformat, keeps the contract's states, raises the engine's own FirmwareError codes and
# records every call, so a test can assert that no byte sequence reached arm() or start() out of
# order. Edges are the program's planned edges, named as the engine names them ("ch0", ...).
#
# The board clock: `manual` (in-process tests set `now`, in cycles) or accelerated real time,
# `fake_speed` board seconds per real second from start() on.
import time

import progformat
from fwerror import FirmwareError  # the firmware's own class: one error contract

SPEED = 200  # board seconds per real second, unless the board file sets "fake_speed"
LEAD = 1000  # real-time clock: cycles from start() to the program's time zero


class FakeEngine:
    def __init__(self, cfg=None, manual=False):
        cfg = cfg or {}
        self.sysclk = cfg.get("sysclk_hz", 125000000)
        self.speed = cfg.get("fake_speed", SPEED)
        self.manual = manual
        self.now = 0  # the manual clock
        self.calls = []
        self.state = "idle"
        self.program = None
        self.edges = []
        self.sent = 0
        self.reason = None
        self.t0 = 0
        self.start_cycle = None
        self.stop_cycle = None
        self.delivered = 0
        self.idle = {}
        # a slow board's check: load() takes this many real seconds, telling progress() every
        # 0.1 s unless "fake_check_silent" (a firmware without keep-alives)
        self.check_s = cfg.get("fake_check_s", 0)
        self.check_silent = cfg.get("fake_check_silent", False)

    def _now(self):
        if self.manual:
            return self.now
        return time.ticks_diff(time.ticks_ms(), self.t0) * self.speed * (self.sysclk // 1000)

    def load(self, data, progress=None, owned=False):
        self.calls.append("load")
        if self.state in ("armed", "running"):
            raise FirmwareError(
                "state", "load while %s: allowed after stop or the end of the run" % self.state
            )
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
        self.calls.append("arm")
        if self.state not in ("loaded", "done", "stopped"):
            raise FirmwareError("state", "arm while %s: allowed after load" % self.state)
        self.state = "armed"

    def start(self):
        self.calls.append("start")
        if self.state != "armed":
            raise FirmwareError("state", "start while %s: allowed after arm" % self.state)
        self.t0 = 0 if self.manual else time.ticks_ms()
        self.start_cycle = self.now if self.manual else LEAD
        edges = []
        for ch in self.program.channels:
            widths = []
            for seg in ch.segments:
                for _ in range(seg[0]):
                    widths.append(seg[1])
            active = 1 - ch.idle_level
            k = 0
            for t in ch.onsets():
                edges.append((self.start_cycle + t, ch.index, active))
                edges.append((self.start_cycle + t + widths[k], ch.index, ch.idle_level))
                k += 1
        edges.sort()
        self.edges = edges
        self.sent = 0
        self.delivered = 0
        self.stop_cycle = None
        self.idle = {}
        for ch in self.program.channels:
            self.idle[ch.index] = ch.idle_level
        self.state = "running"

    def stop(self, reason):
        self.calls.append("stop")
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
