"""Safety review: the order rules on the real engine, an e-stop edge inside start(), and an
exception out of the command loop ending in safe outputs through main.py's except path."""

import json
import os

import plan
import planedges
import progformat as pf
import pytest
from fwchecks import after
from fwtest import FIRMWARE, parse, run_engine, run_micropython
from test_safety import _BOOT, _flash, run_engine_lines

HZ = 125_000_000
MS = 125_000
W = 12_500
CTRL = 0x40014004  # IO_BANK0 GPIO0_CTRL (RP2040); + 8 per GPIO
FORCED_LOW = 0x3206  # OEOVER enable | OUTOVER low | FUNCSEL PIO0
PIO0_CTRL = 0x50200000
PIO1_CTRL_SET = 0x50302000


def test_nothing_starts_out_of_order_and_rearm_after_an_estop_abort_plays_whole(cfg):
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(3, W, 2 * MS, 3 * MS, 0)])])
    src = (
        "import json, binascii\nfrom fwharness import Harness\n"
        "h = Harness(json.loads(%r))\ne = h.engine\n"
        "def tryit(what, fn):\n"
        "    try:\n"
        "        fn()\n"
        "        print('ERR', what, 'none')\n"
        "    except Exception as x:\n"
        "        print('ERR', what, x)\n"
        "tryit('arm', e.arm)\ntryit('start', e.start)\n"
        "e.load(binascii.unhexlify(%r))\n"
        "tryit('start', e.start)\n"
        "e.arm()\n"
        "tryit('load', lambda: e.load(binascii.unhexlify(%r)))\n"
        "e.start()\n"
        "h.board.advance(MS)\n"
        "h.board.drive(12, 1)\n"
        "h.emit(e.poll())\n"
        "print('ABORT', json.dumps(e.status()))\n"
        "tryit('start', e.start)\n"
        "tryit('arm', e.arm)\n"
        "h.board.drive(12, 0)\n"
        "h.board.advance(MS)\n"
        "h.starts = {}\n"
        "h.board.set_tracing([2])\n"
        "h.run(1, 1000)\n"
        "h.report([2])\n"
    ).replace("MS", str(MS)) % (json.dumps(cfg), pf.encode(prog).hex(), pf.encode(prog).hex())
    lines = run_micropython(src)
    errs = [ln[4:] for ln in lines if ln.startswith("ERR ")]
    assert errs == [
        "arm state: arm while idle: allowed after load",
        "start state: start while idle: allowed after arm",
        "start state: start while loaded: allowed after arm",
        "load state: load while armed: allowed after stop or the end of the run",
        "start state: start while stopped: allowed after arm",
        "arm state: arm refused: e-stop (GPIO12) reads stop",
    ]
    st = json.loads([ln for ln in lines if ln.startswith("ABORT ")][0][6:])
    assert (st["state"], st["reason"], st["pulses_delivered"]) == ("stopped", "estop", 1)
    r = parse(lines)
    assert r["status"]["state"] == "done" and r["status"]["reason"] is None
    s = r["starts"]["gen"]
    assert after(r["traces"][2], s) == planedges.pad_edges(plan.channel_onsets(prog, 0, s), 0)
    assert r["status"]["pulses_delivered"] == 3


@pytest.mark.parametrize(
    "addr, value",
    [
        (CTRL + 16, 6),  # after channel 0's pad goes to PIO, before channel 1's
        (PIO1_CTRL_SET, -1),  # after the check, as the capture starts and before the generators
    ],
)
def test_estop_edge_inside_start_leaves_every_output_idle(cfg, addr, value):
    # the abort must not be undone by the releases that follow it, and a generator started
    # after it runs behind forced pads: no edge on any output, ever
    segs = [(5, W, 2 * MS, 3 * MS, 0)]
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, segs), pf.Channel(1, 0, 0, segs)])
    body = (
        "b = h.board\nw32 = b.write32\nhit = []\n"
        "def hook(addr, value):\n"
        "    w32(addr, value)\n"
        "    if addr == %d and %d in (value, -1) and not hit:\n"
        "        hit.append(b.cycle)\n"
        "        b.drive(12, 1)\n"
        "h.engine.arm()\n"
        "b.write32 = hook\n"
        "h.engine.start()\n"
        "b.advance(20 * 125000)\n"
        "h.emit(h.engine.poll())\n"
        "ctrl = [b.read32(%d + 8 * p) for p in (2, 3, 6)]\n"
        "h.report([2, 3, 6], {'hit': hit, 'ctrl': ctrl, 'pio0': b.read32(%d) & 0xF})\n"
        % (addr, value, CTRL, PIO0_CTRL)
    )
    r = run_engine(pf.encode(prog), body)
    hit = r["hit"][0]
    for pin in (2, 3, 6):
        assert after(r["traces"][pin], hit - 1) == []  # no edge at all: never left idle
    assert r["ctrl"] == [FORCED_LOW] * 3 and r["pio0"] == 0
    st = r["status"]
    assert (st["state"], st["reason"], st["pulses_delivered"]) == ("stopped", "estop", 0)


def test_an_exception_in_the_command_loop_while_running_ends_in_safe_outputs_and_a_restart(
    tmp_path, cfg
):
    # service.run raises in the middle of a 10 ms pulse: main.py's except path stops the
    # engine (outputs forced idle, SMs and DMA stopped, reason kept), then restarts the loop
    prog = pf.Program(
        HZ,
        [
            pf.Channel(0, 0, 0, [(5, 10 * MS, 20 * MS, 40 * MS, 0)]),
            pf.Channel(1, 0, 0, [(5, 10 * MS, 20 * MS, 40 * MS, 0)]),
        ],
    )
    pre = (
        "import binascii\nb.drive(12, 0)\nw32 = b.write32\nforced = []\n"
        "def hook(addr, value):\n"
        "    if value == %d and addr in (%d, %d, %d):\n"
        "        forced.append((addr, b.cycle))\n"
        "    w32(addr, value)\n"
        "b.write32 = hook\n"
        "class Svc:\n"
        "    faults = []\n"
        "    def run(self, engine, board, fault=None):\n"
        "        self.faults.append(fault)\n"
        "        if fault is not None:\n"
        "            return 'maintenance'\n"
        "        self.engine = engine\n"
        "        engine.load(binascii.unhexlify(%r))\n"
        "        engine.arm()\n"
        "        engine.start()\n"
        "        b.advance(5 * 125000)\n"
        "        print('HIGH', b.level(2), b.level(3))\n"
        "        del forced[:]\n"
        "        raise RuntimeError('boom')\n"
        "svc = Svc()\n" % (FORCED_LOW, CTRL + 16, CTRL + 24, CTRL + 48, pf.encode(prog).hex())
    )
    boot = (
        _BOOT.replace("PRE", pre)
        .replace(
            "class FakeService:\n    def run(self, engine, board, fault=None):\n"
            "        print('SERVICE RAN')\n        return 'maintenance'\n"
            "sys.modules['service'] = FakeService()\n",
            "sys.modules['service'] = svc\n",
        )
        .replace(
            "exec(open(%r).read(), {'__name__': '__main__'})\n"
            % os.path.join(FIRMWARE, "main.py"),
            "exec(open(%r).read(), {'__name__': '__main__'})\n"
            "print('FAULTS ' + json.dumps(svc.faults))\nb.advance(100 * 125000)\n"
            "print('STATUS ' + json.dumps(svc.engine.status()))\n"
            "print('FORCED ' + json.dumps(forced))\n"
            "print('PIO0 %%d' %% (b.read32(%d) & 0xF))\n"
            % (os.path.join(FIRMWARE, "main.py"), PIO0_CTRL),
        )
    )
    lines = run_micropython(boot, cwd=_flash(tmp_path))
    assert "HIGH 1 1" in lines
    # the loop is restarted (never the REPL), told why; it returns only for maintenance
    faults = json.loads([ln for ln in lines if ln.startswith("FAULTS ")][0][7:])
    assert faults == [None, "command loop restarted after RuntimeError('boom',)"]
    st = json.loads([ln for ln in lines if ln.startswith("STATUS ")][0][7:])
    assert (st["state"], st["reason"]) == ("stopped", "exception: RuntimeError('boom',)")
    assert st["pulses_delivered"] == 2
    assert "PIO0 0" in lines
    forced = json.loads([ln for ln in lines if ln.startswith("FORCED ")][0][7:])
    # the abort's first writes: output 0, output 1, marker, in that order, nothing before
    assert [a for a, c in forced[:3]] == [CTRL + 16, CTRL + 24, CTRL + 48]
    r = parse(lines)
    for i, pin in enumerate((2, 3)):
        tail = [e for e in r["traces"][pin] if e[0] >= forced[0][1]]
        assert tail == [(forced[i][1], 0)]  # cut at the override write, idle ever after
    assert r["ctrl"][2] == r["ctrl"][3] == r["ctrl"][6] == FORCED_LOW


def test_an_engine_stop_that_fails_in_the_crash_handler_still_ends_safe_and_not_in_the_repl(
    tmp_path, cfg
):
    # the 100,000-pulse run that first showed it: the loop raised, then engine.stop() itself
    # ran out of memory in main.py's handler and the exception reached the REPL. Now the
    # handler falls back to the boot block's pin reset and the loop starts again.
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(5, 10 * MS, 20 * MS, 40 * MS, 0)])])
    pre = (
        "import binascii\nb.drive(12, 0)\n"
        "class Svc:\n"
        "    faults = []\n"
        "    def run(self, engine, board, fault=None):\n"
        "        self.faults.append(fault)\n"
        "        if fault is not None:\n"
        "            return 'maintenance'\n"
        "        self.engine = engine\n"
        "        engine.load(binascii.unhexlify(%r))\n"
        "        engine.arm()\n"
        "        engine.start()\n"
        "        b.advance(5 * 125000)\n"
        "        print('HIGH', b.level(2))\n"
        "        def broken(reason):\n"
        "            raise MemoryError('memory allocation failed')\n"
        "        engine.stop = broken\n"
        "        raise RuntimeError('boom')\n"
        "svc = Svc()\n" % pf.encode(prog).hex()
    )
    boot = (
        _BOOT.replace("PRE", pre)
        .replace(
            "class FakeService:\n    def run(self, engine, board, fault=None):\n"
            "        print('SERVICE RAN')\n        return 'maintenance'\n"
            "sys.modules['service'] = FakeService()\n",
            "sys.modules['service'] = svc\n",
        )
        .replace(
            "exec(open(%r).read(), {'__name__': '__main__'})\n"
            % os.path.join(FIRMWARE, "main.py"),
            "exec(open(%r).read(), {'__name__': '__main__'})\n"
            "print('FAULTS ' + json.dumps(svc.faults))\n" % os.path.join(FIRMWARE, "main.py"),
        )
    )
    lines = run_micropython(boot, cwd=_flash(tmp_path))
    assert "HIGH 1" in lines
    faults = json.loads([ln for ln in lines if ln.startswith("FAULTS ")][0][7:])
    assert faults == [None, "command loop restarted after RuntimeError('boom',)"]
    r = parse(lines)
    assert r["ctrl"][2] == 5 and r["pads"][2] == 4  # SIO input, pull-down, no override
    assert r["traces"][2][-1][1] == 0  # the pulse was cut: the line rests low


def _session(cfg, msgs):
    """Feed (mtype, payload hex) frames to the real command loop (service.Service) over the real
    engine on the emulated board; return the reply frames, the pad trace of GPIO 2 and the
    engine status."""
    src = (
        "import json, binascii, service, wire\nfrom fwharness import Harness\n"
        "h = Harness(json.loads(%r))\nout = []\n"
        "svc = service.Service(h.engine, h.cfg, out.append)\n"
        "for seq, (t, p) in enumerate(%r):\n"
        "    svc.receive(wire.frame(t, seq, binascii.unhexlify(p)))\n"
        "    svc.tick()\n"
        "    h.board.advance(125000)\n"
        "for f in out:\n"
        "    print('OUT', binascii.hexlify(f).decode())\n"
        "print('TRACE 2 ' + json.dumps(h.board.trace(2)))\n"
        "print('RESULT ' + json.dumps({'status': h.engine.status(), 'phase': svc.phase}))\n"
        % (json.dumps(cfg), msgs)
    )
    lines = run_micropython(src)
    import wire

    dec = wire.Decoder()
    replies = []
    for ln in lines:
        if ln.startswith("OUT "):
            for item in dec.feed(bytes.fromhex(ln[4:])):
                replies.append((item[1], item[3]))
    return replies, parse(lines)


def test_a_refused_load_after_a_good_one_leaves_nothing_to_arm_or_start(cfg):
    import wire

    def load(data, crc):
        return [
            (wire.LOAD_BEGIN, wire.load_begin(len(data), crc).hex()),
            (wire.LOAD_DATA, wire.load_data(0, data).hex()),
            (wire.LOAD_END, ""),
        ]

    good = pf.encode(pf.Program(HZ, [pf.Channel(0, 0, 0, [(3, W, 2 * MS, 3 * MS, 0)])]))
    narrow = pf.encode(pf.Program(HZ, [pf.Channel(0, 0, 0, [(3, 100, 2 * MS, 3 * MS, 0)])]))
    crc = wire.crc32(good) & 0xFFFFFFFF
    msgs = (
        [(wire.HELLO, wire.u32(wire.WIRE_VERSION)[:2].hex())]
        + load(good, crc)
        + load(good, crc ^ 1)
        + [(wire.ARM, ""), (wire.START_RUN, "")]
        + load(good, crc)
        + load(narrow, wire.crc32(narrow) & 0xFFFFFFFF)
        + [(wire.ARM, ""), (wire.START_RUN, "")]
    )
    replies, r = _session(cfg, msgs)
    errors = [wire.parse_error(p) for t, p in replies if t == wire.ERROR]
    assert [e[0] for e in errors] == [
        wire.E_PAYLOAD,
        wire.E_ORDER,
        wire.E_ORDER,
        wire.E_ENGINE,
        wire.E_ORDER,
        wire.E_ORDER,
    ]
    texts = [e[-1] for e in errors]
    assert texts[0] == "load-end crc32 0x%08x: announced 0x%08x" % (crc, crc ^ 1)
    assert texts[1] == "arm not allowed while idle (allowed while loaded)"
    assert texts[2] == "start not allowed while idle (allowed while armed)"
    assert texts[3] == (
        "limit: channels[0].segments[0].width = 100 cycles (0.800 us) is "
        "below limits.min_width_us = 10 us"
    )
    assert texts[4:] == texts[1:3]
    assert [t for t, p in replies].count(wire.LOADED) == 2
    # load-begin lets the engine's previous program go (engine.unload), so nothing is loaded
    assert r["phase"] == "idle" and r["status"]["state"] == "idle"
    assert r["status"]["pulses_planned"] == 0
    assert r["traces"][2] == [(0, 0)]  # never driven active


def test_an_exception_while_servicing_a_run_aborts_to_safe_outputs(cfg):
    # a generator's DMA service raises in the middle of a pulse: poll() aborts (outputs
    # forced idle at its first register write), stops PIO, keeps the reason and the count
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(5, 10 * MS, 20 * MS, 40 * MS, 0)])])
    body = (
        "b = h.board\nh.engine.arm()\nh.engine.start()\n"
        "b.advance(25 * 125000)\n"
        "h.emit(h.engine.poll())\n"
        "def boom():\n"
        "    raise OSError(5)\n"
        "h.engine._gens[0][2].service = boom\n"
        "b.advance(20 * 125000)\n"
        "at = b.cycle\n"
        "print('HIGH', b.level(2))\n"
        "h.emit(h.engine.poll())\n"
        "b.advance(200 * 125000)\n"
        "h.report([2, 6], {'at': at, 'ctrl': b.read32(%d), 'pio0': b.read32(%d) & 0xF})\n"
        % (CTRL + 16, PIO0_CTRL)
    )
    r = run_engine(pf.encode(prog), body)
    s, at = r["starts"]["gen"], r["at"]
    full = planedges.pad_edges(plan.channel_onsets(prog, 0, s), 0)
    before = [x for x in full if x[0] < at]
    assert before[-1][1] == 1  # the third pulse is high when poll() runs
    trace = after(r["traces"][2], s)
    assert trace[:-1] == before and trace[-1][1] == 0
    # poll() feeds the watchdog (one register write); the abort's first write forces the pad
    assert trace[-1][0] == at + r["access_cycles"]
    st = r["status"]
    assert (st["state"], st["reason"], st["pulses_delivered"]) == (
        "stopped",
        "exception: OSError(5,)",
        3,
    )
    assert r["ctrl"] == FORCED_LOW and r["pio0"] == 0
    assert after(r["traces"][6], s) == []


def test_an_estop_press_released_during_arm_refuses_start_until_armed_again(cfg):
    # a momentary e-stop contact pressed and released while arm() claims the state machines
    # (state not yet "armed", so no abort was due): start() must still refuse
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(1, W, 0, MS, 0)])])
    body = (
        "b = h.board\nw32 = b.write32\n"
        "def hook(addr, value):\n"
        "    w32(addr, value)\n"
        "    if addr == %d:  # PIO0 IRQ clear: the end of arm()\n"
        "        b.drive(12, 1)\n"
        "        b.advance(100)\n"
        "        b.drive(12, 0)\n"
        "b.write32 = hook\n"
        "h.engine.arm()\n"
        "b.write32 = w32\n"
        "try:\n"
        "    h.engine.start()\n"
        "except Exception as e:\n"
        "    print('ERR', e)\n"
        "st = h.engine.status()\n"
        "print('STATE', st['state'], st['reason'], len(b.trace(2)))\n"
        "h.run(1, 100)\n"
        "h.report([2])\n" % (PIO0_CTRL + 0x30)
    )
    lines = run_engine_lines(prog, body)
    assert "ERR state: start refused: e-stop (GPIO12) struck during arm; arm again" in lines
    assert "STATE stopped estop 1" in lines  # aborted as by the edge itself; the pad never moved
    r = parse(lines)
    s = r["starts"]["gen"]
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 1
    assert after(r["traces"][2], 0) == [(0, 0)] + planedges.pad_edges(
        plan.channel_onsets(prog, 0, s), 0
    )
