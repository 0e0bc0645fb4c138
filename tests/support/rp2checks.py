"""Checks shared by tests/rp2 (make test-rp2): a run through the unchanged host CLI, and the
comparison of every generator edge (rig log, in its state machine's own cycles) and every edge
the firmware reported (events.jsonl) with the plan (firmware/plan.py)."""

import json
import os

from tmspio import cli, compiler, firmware
from tmspio.emulator import rp2port
from tmspio.protocols import parser

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rp2")
PICO = os.path.join(os.path.dirname(os.path.dirname(HERE)), "boards", "pico.json")
HZ = 125_000_000
SLOW_HZ = 24_000_000  # conftest.board24: the long programs
SCALE = str(rp2port.TIMEOUT_SCALE)
P = firmware.load("plan")
pf = firmware.progformat()
T = firmware.load("timing")
with open(PICO) as _f:
    CFG = json.load(_f)
TRIG = CFG["pins"]["trigger"]
MARKER = CFG["pins"]["marker"]
TRIG_IN = CFG["pins"]["trigger_in"]
ESTOP = CFG["pins"]["estop"]
# rp2040py has no input synchroniser (an SM sees a pad change at its next step, not
# T.INPUT_LATENCY later) and counts a stalled WAIT's cycle when it starts, not when it ends:
# from the injected trigger edge to the first onset the generator counts this many cycles.
RP2040PY_TRIGGER_TO_ONSET = T.TRIGGER_LATENCY - T.INPUT_LATENCY - 1


def path(name):
    return os.path.join(HERE, "protocols", name + ".toml")


def program(name, hz=HZ):
    return compiler.compile_protocol(parser.resolve(path(name)), hz).program


def run(board, name, tmp_path, capsys, rc=0):
    """`tmspio run` of tests/rp2/protocols/NAME.toml on the board's port (after a rig mark
    named NAME); returns (summary.json, events.jsonl records)."""
    board.command(mark=name)
    out = tmp_path / name
    argv = ["run", path(name), "--port", board.path, "--out", str(out), "--quiet"]
    got = cli.main(argv + ["--timeout-scale", SCALE])
    cap = capsys.readouterr()
    assert got == rc, cap.err
    summary = json.loads((out / "summary.json").read_text())
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    return summary, events


def plan_edges(prog, triggers=()):
    """{pad: [(plan cycle, level)]} for every trigger output and the marker (start = 0), from
    plan.channel_onsets: an onset raises the output (and the marker with a marked segment's
    first pulse) for its width."""
    out = {}
    marker = []
    for ci, ch in enumerate(prog.channels):
        edges = []
        for t, width, marked in P.channel_onsets(prog, ci, 0, triggers):
            edges += [(t, 1 - ch.idle_level), (t + width, ch.idle_level)]
            if marked:
                marker += [(t, 1), (t + width, 0)]
        out[TRIG[ch.index]] = edges
    out[MARKER] = sorted(marker)
    return out


def sm_of(prog):
    """{pad: index of the PIO0 state machine driving it} (engine: SM n = output n)."""
    out = {TRIG[ch.index]: ch.index for ch in prog.channels}
    out[MARKER] = prog.channels[0].index  # words.marker_channel: channel 0 carries the marker
    return out


def check_generators(board, mark, prog, zero=None, triggers=()):
    """Every rig-seen edge of the outputs, in its generator's own SM cycles, equals the plan.

    The generators start in one CTRL write and step in lockstep, so one instant fixes every
    state machine's count offset: `zero` (a rig record: SM counts at plan cycle 0, e.g. the
    trigger injection), else the first edge (its plan cycle). Returns {pad: [records]}."""
    recs = board.events("edge", after=mark)
    plans = plan_edges(prog, triggers)
    sm = sm_of(prog)
    if zero is None:
        first = recs[0]
        zero_counts = [c - plans[first["pin"]][0][0] for c in first["sm"]]
    else:
        zero_counts = zero["sm"]
    seen = {}
    for pad in plans:
        mine = [r for r in recs if r["pin"] == pad]
        seen[pad] = mine
        got = [(r["sm"][sm[pad]] - zero_counts[sm[pad]], r["level"]) for r in mine]
        assert got == plans[pad], f"GPIO{pad}"
    return seen


def check_captures(events, prog, triggers=()):
    """Every edge the firmware reported, in its capture's cycles, equals the plan: one offset
    for all sources (the capture state machines start together)."""
    plans = {"ch%d" % ch.index: plan_edges(prog, triggers)[TRIG[ch.index]] for ch in prog.channels}
    plans["confirm"] = plans["ch0"]  # pico.json loopback: GP2 (output 0) -> confirm_in
    got = {}
    for e in events:
        if e["event"] == "edge":
            got.setdefault(e["source"], []).append((e["cycle"], e["level"]))
    assert set(got) == set(plans), got.keys()
    src0 = "ch%d" % prog.channels[0].index
    offset = got[src0][0][0] - plans[src0][0][0]
    for src, edges in got.items():
        assert [(c - offset, lvl) for c, lvl in edges] == plans[src], src
    return offset
