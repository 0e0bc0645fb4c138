# MicroPython side of the firmware tests: runs the engine on the emulated board and prints one
# JSON line with the pad traces, the captured edges, the start cycles and the status.
import json
import time

from rp2040 import board as emuboard

GEN_CTRL_SET = 0x50202000
CAP_CTRL_SET = 0x50302000


class Harness:
    def __init__(self, cfg, single_step=False):
        if single_step:  # a fresh board without the simulator's fast path
            emuboard.Board(single_step=True).activate()
        self.board = emuboard.current()
        self.cfg = cfg
        self.starts = {}
        board = self.board
        orig = board.write32

        def write32(addr, value):
            # the cycle of the synchronous-start CTRL writes (SM_ENABLE bits set)
            if addr in (GEN_CTRL_SET, CAP_CTRL_SET) and value & 0xF and value & 0xF00:
                self.starts["gen" if addr == GEN_CTRL_SET else "cap"] = board.cycle
            orig(addr, value)

        board.write32 = write32
        for src, dst in cfg.get("loopback", ()):
            board.wire(src, dst)  # the jumpers the board file declares (not the rig's e-stop)
        released = 0 if cfg["polarity"]["estop"] == "rising" else 1
        board.drive(cfg["pins"]["estop"], released)
        from engine import Engine

        self.engine = Engine(cfg)

    def run(self, poll_ms, max_polls, on_start=None):
        eng = self.engine
        eng.arm()
        eng.start()
        if on_start is not None:
            on_start(self)
        n = 0
        while eng.status()["state"] == "running" and n < max_polls:
            self.emit(eng.poll())
            time.sleep_ms(poll_ms)
            n += 1
        self.emit(eng.poll())

    def emit(self, edges):
        # streamed: a 3000-pulse run does not fit one list in the emulated heap
        if edges:
            print("EDGES " + json.dumps(edges))

    def report(self, pins, extra=None):
        self.emit(self.engine.poll())
        for p in pins:
            tr = self.board.trace(p)
            for i in range(0, len(tr), 400):
                print("TRACE %d %s" % (p, json.dumps(tr[i : i + 400])))
        out = {
            "starts": self.starts,
            "status": self.engine.status(),
            "now": self.board.cycle,
            "access_cycles": emuboard.ACCESS_CYCLES,
        }
        if extra:
            out.update(extra)
        print("RESULT " + json.dumps(out))
