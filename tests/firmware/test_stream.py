"""Streaming (docs/program-format.md §8) on the emulated board through the engine: a jittered
program larger than the look-ahead window plays with every edge on its planned cycle; a piece
that comes too late is the underrun fault, which stops the outputs and never replays a stale
word or adds a pulse, even when the missing pieces arrive afterwards."""

import random

import plan
import planedges
import progformat as pf
import stream
from fwchecks import after
from fwtest import run_engine

HZ = 125_000_000
MS = 125_000
W = 12_500  # 100 us


def jittered(n, seed):
    rnd = random.Random(seed)
    segs = [(1, W, 0, rnd.randrange(10 * MS, 20 * MS), 0) for _ in range(n - 1)]
    return segs + [(1, W, 0, 2 * W + 13, 0)]


def split(segs, head, size):
    """The loaded head program's bytes and the pieces (encode_records) of the rest."""
    first = pf.encode(pf.Program(HZ, [pf.Channel(0, 0, 1000, segs[:head])]))
    pieces = []
    for i in range(head, len(segs), size):
        part = segs[i : i + size]
        pieces.append(pf.encode_records(part, i + size >= len(segs)))
    return first, pieces


BODY = """
eng = h.engine
pieces = [binascii.unhexlify(x) for x in %r]
eng.stream_begin(%d)
state = [0]
def feed(limit):
    while state[0] < min(limit, len(pieces)) and len(pieces[state[0]]) <= eng._stream.room():
        eng.stream_data(pieces[state[0]])
        state[0] += 1
    if state[0] == len(pieces) and not eng._stream.ended:
        eng.stream_end()
feed(%d)
eng.arm()
eng.start()
n = 0
while eng.status()["state"] == "running" and n < 200000:
    h.emit(eng.poll())
    feed(%d)
    time.sleep_ms(20)
    n += 1
late = eng.status()
feed(len(pieces))  # whatever was withheld arrives now: nothing may play any more
for _ in range(50):
    h.emit(eng.poll())
    time.sleep_ms(20)
h.report(%r, {"late": late})
"""


def test_a_stream_larger_than_the_window_plays_every_edge_exact(cfg):
    segs = jittered(6000, 7)
    prog = pf.Program(HZ, [pf.Channel(0, 0, 1000, segs)])
    first, pieces = split(segs, 300, 100)
    total = sum(len(p) for p in pieces)
    assert total > 2 * stream.WINDOW  # the look-ahead holds a fraction of the program
    # (no pad trace: 12,000 edges do not fit the emulated heap's trace; the capture is exact)
    body = BODY % ([p.hex() for p in pieces], 6000, 10**9, 10**9, [])
    r = run_engine(first, body, timeout=300)
    st = r["status"]
    assert (st["state"], st["faults"], st["pulses_planned"], st["pulses_delivered"]) == (
        "done",
        [],
        6000,
        6000,
    )
    assert st["stream"] == {"received": total, "queued": 0, "pulses": 6000, "ended": True}
    # every captured edge is the exact capture of the planned pad edges (cycle for cycle)
    s0, c0 = r["starts"]["gen"], r["starts"]["cap"]
    pad = planedges.pad_edges(plan.channel_onsets(prog, 0, s0), 0)
    want = [(c - c0, lv) for c, lv in planedges.capture_expected(pad, c0, 0)]
    got = [(c, lv) for src, lv, c in r["edges"] if src == "ch0"]
    assert len(want) == 12000 and got == want


def test_a_late_piece_is_an_underrun_that_stops_the_outputs_and_adds_nothing(cfg):
    segs = jittered(1000, 8)
    prog = pf.Program(HZ, [pf.Channel(0, 0, 1000, segs)])
    first, pieces = split(segs, 300, 100)
    # only the first two pieces are sent before the run needs the third
    body = BODY % ([p.hex() for p in pieces], 1000, 2, 2, [2])
    r = run_engine(first, body, timeout=300)
    st = r["status"]
    assert (st["state"], st["reason"]) == ("stopped", "underrun")
    assert st["faults"] == [
        "underrun: stream data late (generator 0's buffer ended before the next piece arrived)"
    ]
    assert r["late"]["state"] == "stopped"
    got = after(r["traces"][2], r["starts"]["gen"])
    want = planedges.pad_edges(plan.channel_onsets(prog, 0, r["starts"]["gen"]), 0)
    # exactly the first pulses of the plan, each on its cycle, then nothing: no stale word was
    # replayed, no pulse added, none late, though the missing pieces arrived after the fault
    n = len(got) // 2
    assert got == want[: 2 * n] and 490 <= n <= 500, (n, got[-4:], want[2 * n - 2 : 2 * n + 2])
    assert st["pulses_delivered"] == n
