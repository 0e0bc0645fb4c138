"""Safety on the emulated board: e-stop, watchdog, underrun, refusals, boot."""

import json
import os
import shutil

import plan
import progformat as pf
from fwchecks import after
from fwtest import BOARDS, FIRMWARE, parse, run_engine, run_micropython

HZ = 125_000_000
MS = 125_000
W = 12_500


def test_estop_mid_pulse_forces_outputs_idle_within_the_bound(cfg):
    segs = [(3, W, 20 * MS, 160 * MS, 0)] * 10
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, segs), pf.Channel(1, 1, 0, segs)])
    # e-stop pressed 6000 cycles into the 5th pulse (second burst, second pulse)
    rel = 12 + 180 * MS + 20 * MS + 20 * MS + 6000
    body = (
        "def es(h):\n"
        "    h.board.drive(12, 1, at=h.starts['gen'] + %d)\n"
        "h.run(20, 100000, es)\n"
        "h.report([2, 3, 6, 12])\n" % rel
    )
    r = run_engine(pf.encode(prog), body)
    s = r["starts"]["gen"]
    e = s + rel
    acc = r["access_cycles"]
    assert after(r["traces"][12], s) == [(e, 1)]
    st = r["status"]
    assert (st["state"], st["reason"], st["faults"]) == ("stopped", "estop", [])
    assert st["pulses_delivered"] == 10 and st["pulses_planned"] == 60
    for ci, pin in ((0, 2), (1, 3)):
        idle = prog.channels[ci].idle_level
        full = plan.pad_edges(plan.channel_onsets(prog, ci, s), idle)
        before = [x for x in full if x[0] < e]
        # the k-th output is forced idle k register writes after the edge (outputs first, in
        # channel order, then the marker); the pulse in flight is cut there; nothing after
        assert after(r["traces"][pin], s) == before + [(e + ci * acc, idle)]
    assert after(r["traces"][6], s) == []


def test_arm_refused_while_estop_reads_stop():
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(1, W, 0, MS, 0)])])
    body = (
        "h.board.drive(12, 1)\nh.board.advance(10)\n"
        "try:\n"
        "    h.engine.arm()\n"
        "except Exception as e:\n"
        "    print('ERR', e)\n"
        "h.report([2])\n"
    )
    src_lines = run_engine_lines(prog, body)
    assert "ERR state: arm refused: e-stop (GPIO12) reads stop" in src_lines


def run_engine_lines(prog, body):
    from fwtest import board_cfg

    src = (
        "import json, binascii\nfrom fwharness import Harness\n"
        "h = Harness(json.loads(%r))\nh.engine.load(binascii.unhexlify(%r))\n"
        % (json.dumps(board_cfg()), pf.encode(prog).hex())
    ) + body
    return run_micropython(src)


def test_underrun_is_a_fault_and_the_output_stalls_idle(cfg):
    # 600 single pulses 1 ms apart: 2401 words; without polls only the first two 256-word
    # buffers are sent: delay wait + 127 x (3 + 1) words + the 128th header -> 128 pulses
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(1, W, 0, MS, 0)] * 600)])
    body = (
        "h.engine.arm()\nh.engine.start()\n"
        "h.board.advance(300 * 125000)\n"
        "h.emit(h.engine.poll())\n"
        "h.report([2])\n"
    )
    r = run_engine(pf.encode(prog), body)
    s = r["starts"]["gen"]
    full = plan.pad_edges(plan.channel_onsets(prog, 0, s), 0)
    assert after(r["traces"][2], s) == full[:256]
    st = r["status"]
    assert (st["state"], st["reason"]) == ("stopped", "underrun")
    assert st["faults"] == ["underrun: generator SM mask 0x1 stalled on an empty FIFO"]
    assert st["pulses_delivered"] == 128


def test_watchdog_starvation_resets_to_safe_outputs(cfg):
    # 10 ms pulses every 20 ms; the script stops polling, the watchdog (2000 ms) resets the
    # board; after the reset every output stays at its pull-down (idle) level
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(500, 10 * MS, 20 * MS, 40 * MS, 0)])])
    src = (
        "import json, binascii, machine\nfrom rp2040 import board as emuboard\n"
        "b = emuboard.current()\n"
        "if machine.reset_cause() == machine.WDT_RESET:\n"
        "    for p in (2, 3, 6):\n"
        "        print('TRACE %%d %%s' %% (p, json.dumps(b.trace(p))))\n"
        "    print('RESULT ' + json.dumps({'now': b.cycle, 'level': b.level(2)}))\n"
        "else:\n"
        "    from fwharness import Harness\n"
        "    feeds = []\n"
        "    orig = b.watchdog_feed\n"
        "    def feed():\n"
        "        feeds.append(b.cycle)\n"
        "        orig()\n"
        "    b.watchdog_feed = feed\n"
        "    h = Harness(json.loads(%r))\n"
        "    h.engine.load(binascii.unhexlify(%r))\n"
        "    h.engine.arm()\n"
        "    h.engine.start()\n"
        "    h.engine.poll()\n"
        "    print('FED %%d %%d' %% (feeds[-1], h.starts['gen']))\n"
        "    b.advance(3 * 125000000)\n"
        "    print('NOT RESET')\n" % (json.dumps(cfg), pf.encode(prog).hex())
    )
    lines = run_micropython(src)
    assert "NOT RESET" not in lines
    fed, s = [int(x) for x in [ln for ln in lines if ln.startswith("FED ")][0].split()[1:]]
    r = parse([ln for ln in lines if not ln.startswith("FED ")])
    reset = fed + 2000 * MS  # the watchdog counts 2000 ms from the last feed
    full = plan.pad_edges(plan.channel_onsets(prog, 0, s), 0)
    before = [x for x in full if x[0] < reset]
    tail = [(reset, 0)] if before[-1][1] == 1 else []
    assert after(r["traces"][2], s) == before + tail
    assert r["level"] == 0 and r["now"] == reset


def _load_each():
    return (
        "for d in DATA:\n"
        "    try:\n"
        "        h.engine.load(binascii.unhexlify(d))\n"
        "        print('ERR none')\n"
        "    except Exception as e:\n"
        "        print('ERR', e)\n"
    )


def test_load_refusals_name_field_value_and_limit(cfg):
    good = pf.Program(HZ, [pf.Channel(0, 0, 0, [(3, W, 20 * MS, 160 * MS, 0)])])
    data = bytearray(pf.encode(good))
    bad_crc = bytes(data[:-1]) + bytes([data[-1] ^ 1])
    clock = pf.encode(pf.Program(150_000_000, good.channels))
    cfg2 = dict(cfg)
    cfg2["pins"] = dict(cfg["pins"], trigger=[2, 3, 4])
    over = pf.encode(pf.Program(HZ, [pf.Channel(3, 0, 0, [(1, W, 0, MS, 0)])]))
    narrow = pf.encode(pf.Program(HZ, [pf.Channel(0, 0, 0, [(2, 100, 20 * MS, MS, 0)])]))
    many = pf.encode(pf.Program(HZ, [pf.Channel(0, 0, 0, [(1001, W, MS, 2 * MS, 0)])]))
    marker2 = pf.encode(
        pf.Program(
            HZ, [pf.Channel(0, 0, 0, [(1, W, 0, MS, 1)]), pf.Channel(1, 0, 0, [(1, W, 0, MS, 1)])]
        )
    )
    datas = [
        bad_crc.hex(),
        clock.hex(),
        over.hex(),
        narrow.hex(),
        many.hex(),
        marker2.hex(),
        bytes(data).hex(),
    ]
    src = (
        "import json, binascii\nfrom fwharness import Harness\n"
        "h = Harness(json.loads(%r))\nDATA = %r\n" % (json.dumps(cfg2), datas)
    ) + _load_each()
    errs = [ln[4:] for ln in run_micropython(src) if ln.startswith("ERR ")]
    crc = int.from_bytes(bad_crc[-4:], "little")
    assert errs == [
        "format: crc32 = %d: crc32 of the program bytes" % crc,
        "board: sysclk_hz = 150000000: the board runs at 125000000 Hz (board file 125000000 Hz)",
        "board: channels[0].index = 3: this board has outputs 0..2",
        "limit: channels[0].segments[0].width = 100 cycles (0.800 us) is below "
        "limits.min_width_us = 10 us",
        "limit: channels[0]: 1001 pulses within 10 s (onsets 0..1000) exceed "
        "limits.max_rate_hz = 100 over limits.max_rate_window_s = 10",
        "timing: channels[1].segments flags = marker: the marker output is already raised "
        "by channels[0]; allowed: marker flags on one channel",
        "none",
    ]


def _flash(tmp_path, with_board=True):
    if with_board:
        shutil.copyfile(os.path.join(BOARDS, "emulated.json"), tmp_path / "board.json")
    return str(tmp_path)


_BOOT = (
    "import sys, json\nfrom rp2040 import board as emuboard\n"
    "b = emuboard.current()\n"
    "PRE\n"
    "class FakeService:\n"
    "    def run(self, engine, board, fault=None):\n"
    "        print('SERVICE RAN')\n"
    "        return 'maintenance'\n"
    "sys.modules['service'] = FakeService()\n"
    "t0 = b.cycle\n"
    "exec(open(%r).read(), {'__name__': '__main__'})\n"
    "ctrl = [b.read32(0x40014004 + 8 * p) for p in range(12)]\n"
    "pads = [b.read32(0x4001C004 + 4 * p) & 0xC for p in range(12)]\n"
    "for p in range(12):\n"
    "    print('TRACE %%d %%s' %% (p, json.dumps(b.trace(p))))\n"
    "print('RESULT ' + json.dumps({'t0': t0, 'ctrl': ctrl, 'pads': pads}))\n"
) % os.path.join(FIRMWARE, "main.py")


def test_boot_from_power_up_never_drives_an_output(tmp_path):
    lines = run_micropython(_BOOT.replace("PRE", ""), cwd=_flash(tmp_path))
    assert "SERVICE RAN" in lines
    r = parse(lines)
    for p in (2, 3, 4, 5, 6):
        assert r["traces"][p] == [(0, 0)]  # never active, never driven
        assert r["ctrl"][p] == 5 and r["pads"][p] == 4  # SIO input, pull-down, no override


def test_boot_after_soft_reset_mid_pulse_releases_the_stuck_output(tmp_path, cfg):
    # a run is cut by a soft reset while channel 0 is high: the PIO output register keeps
    # driving the pin until main.py's first lines take it back (before any other import)
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(5, 10 * MS, 20 * MS, 40 * MS, 0)])])
    pre = (
        "import binascii\nfrom fwharness import Harness\n"
        "h = Harness(json.loads(%r))\n"
        "h.engine.load(binascii.unhexlify(%r))\nh.engine.arm()\nh.engine.start()\n"
        "b.advance(5 * 125000)\n"
        "import emurun\nemurun.soft_reset_standins('soft')\n"
        "print('HIGH', b.level(2))\n" % (json.dumps(cfg), pf.encode(prog).hex())
    )
    lines = run_micropython(_BOOT.replace("PRE", pre), cwd=_flash(tmp_path))
    assert "HIGH 1" in lines
    r = parse(lines)
    falls = [c for c, lv in r["traces"][2] if c >= r["t0"]]
    assert len(falls) == 1 and r["traces"][2][-1][1] == 0  # released once, stays idle
    assert r["ctrl"][2] == 5 and r["pads"][2] == 4


def test_boot_without_board_file_holds_every_candidate_pin_safe(tmp_path):
    lines = run_micropython(_BOOT.replace("PRE", ""), cwd=_flash(tmp_path, False))
    assert "tmspio: board.json missing or unreadable; outputs held safe, firmware stopped" in lines
    assert "SERVICE RAN" not in lines
    r = parse(lines)
    assert r["ctrl"] == [5] * 12 and r["pads"] == [4] * 12


def test_host_stop_mid_train_then_rearm_replays_the_program_exactly(cfg):
    # stop() in the middle of a pulse: outputs idle at once, reason kept; the same verified
    # program can be armed and started again and plays exactly as planned from its new start
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(5, 10 * MS, 20 * MS, 40 * MS, 0)])])
    body = (
        "h.engine.arm()\nh.engine.start()\n"
        "s1 = h.starts['gen']\n"
        "h.board.advance(45 * 125000)\n"
        "h.engine.stop()\n"
        "print('STOP', s1, h.board.cycle, json.dumps(h.engine.status()))\n"
        "h.emit(h.engine.poll())\n"
        "h.run(20, 1000)\n"
        "h.report([2])\n"
    )
    lines = run_engine_lines(prog, body)
    stop = [ln for ln in lines if ln.startswith("STOP ")][0].split(" ", 3)
    s1, cut = int(stop[1]), int(stop[2])
    st1 = json.loads(stop[3])
    assert (st1["state"], st1["reason"], st1["pulses_delivered"]) == ("stopped", "host stop", 3)
    r = parse(lines)
    s2 = r["starts"]["gen"]
    first = plan.pad_edges(plan.channel_onsets(prog, 0, s1), 0)
    again = plan.pad_edges(plan.channel_onsets(prog, 0, s2), 0)
    kept = [x for x in first if x[0] < cut - 125]
    # the stop's first register write forces the output low; the run after re-arm is whole
    trace = after(r["traces"][2], s1)
    assert trace[: len(kept)] == kept and trace[len(kept)][1] == 0
    assert trace[len(kept) + 1 :] == again
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 5


def test_capture_overflow_is_a_fault(cfg):
    # 200 pulses 1 ms apart (one segment: 7 FIFO words, no underrun) and no poll for 300 ms:
    # 400 edges on trigger0 against a 256-word DMA buffer + the 8-word RX FIFO
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(200, W, MS, 2 * MS, 0)])])
    body = (
        "h.engine.arm()\nh.engine.start()\n"
        "h.board.advance(300 * 125000)\n"
        "h.emit(h.engine.poll())\n"
        "h.report([2])\n"
    )
    r = run_engine(pf.encode(prog), body)
    st = r["status"]
    assert (st["state"], st["reason"]) == ("stopped", "capture overflow")
    assert st["faults"] == ["capture overflow: an edge was not recorded in time"]
    # what was captured before the state machine stalled: 256 + 8 words = 132 pulses, each
    # exactly where the plan puts it
    got = [(c, lv) for src, lv, c in r["edges"] if src == "ch0"]
    assert len(got) == 264 and st["pulses_delivered"] == 132
    s, c0 = r["starts"]["gen"], r["starts"]["cap"]
    import capture

    exp = capture.expected(plan.pad_edges(plan.channel_onsets(prog, 0, s), 0), c0, 0)
    assert got == [(c - c0, lv) for c, lv in exp[:264]]


def test_boot_parser_reads_only_what_it_is_sure_of():
    # main.py's minimal parser (run here without its machine import): never raises, never
    # takes a number from another key
    src = open(os.path.join(FIRMWARE, "main.py")).read()
    scope = {}
    exec(src[src.index("def _ints_after") : src.index("def _safe_pins")], scope)
    f = scope["_ints_after"]
    text = '{"pins": {"trigger": [2, 3,4 ,15], "marker":        6, "trigger_in": 10}}'
    assert f(text, "trigger", True) == [2, 3, 4, 15]
    assert f(text, "marker", False) == [6]
    assert f('{"marker": null, "x": 5}', "marker", False) == []
    assert f('{"trigger": null, "x": [5]}', "trigger", True) == []
    assert f('{"marker":', "marker", False) == []
    assert f("", "trigger", True) == []


def test_arm_without_free_dma_channels_is_refused_and_stays_safe(cfg):
    prog = pf.Program(HZ, [pf.Channel(0, 1, 0, [(1, W, 0, MS, 0)])])
    body = (
        "import rp2\n"
        "taken = [rp2.DMA() for _ in range(10)]  # another driver holds 10 of the 12\n"
        "try:\n"
        "    h.engine.arm()\n"
        "except Exception as e:\n"
        "    print('ERR', e)\n"
        "print('STATE', h.engine.status()['state'], h.board.level(2))\n"
        "for d in taken:\n"
        "    d.close()\n"
        "h.engine.arm()\nh.engine.start()\n"
        "h.board.advance(2 * 125000)\n"
        "h.emit(h.engine.poll())\n"
        "h.report([2])\n"
    )
    lines = run_engine_lines(prog, body)
    err = [ln for ln in lines if ln.startswith("ERR ")][0]
    assert err.startswith("ERR resource: arm failed (OSError(")
    assert err.endswith(
        "): 1 channels need 3 state machines (PIO0 SM 0-3 by output, PIO1 SM "
        "0-1) and 4 DMA channels not claimed by other drivers"
    )
    assert "STATE loaded 1" in lines  # still loaded, the idle-high output still idle
    r = parse(lines)
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 1


def test_a_refused_load_keeps_the_previous_program_whole(cfg):
    # program A raises the marker from channel 1; program B (marker on channel 0) is refused by
    # a limit; arming afterwards runs A exactly, marker included
    a = pf.Program(
        HZ,
        [
            pf.Channel(0, 0, 0, [(2, W, 2 * MS, 3 * MS, 0)]),
            pf.Channel(1, 0, MS, [(2, W, 2 * MS, 3 * MS, pf.FLAG_MARKER)]),
        ],
    )
    b = pf.Program(HZ, [pf.Channel(0, 0, 0, [(2, 100, 2 * MS, 3 * MS, pf.FLAG_MARKER)])])
    body = (
        "try:\n"
        "    h.engine.load(binascii.unhexlify(%r))\n"
        "except Exception as e:\n"
        "    print('ERR', e)\n"
        "h.run(5, 1000)\n"
        "h.report([2, 3, 6])\n" % pf.encode(b).hex()
    )
    from fwchecks import check_run

    r = run_engine(pf.encode(a), body)
    assert r["status"]["state"] == "done" and r["status"]["pulses_planned"] == 4
    check_run(a, r, cfg)  # pads, capture and the marker (from channel 1) exact
