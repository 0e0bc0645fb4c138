"""Cycle formulas: edges at exact cycles, in both fast and single-step mode (run_both)."""

from simrig import PIO_BASE, SET_ALIAS, run_both, setup_sm, shiftctrl
from tmspio.emulator.mpy.rp2040 import board as emuboard

BLINK = """
set pindirs, 1
.wrap_target
set pins, 1
set x, 7
d1:
jmp x-- d1 [1]
set pins, 0
set x, 7
d2:
jmp x-- d2 [1]
.wrap
"""


def test_blink_half_period_is_1_plus_1_plus_8_times_2():
    # set pins (1) + set x (1) + 8 iterations of jmp x-- [1] (2 each) = 18 cycles per half period;
    # first edge: `set pins, 1` runs at tick 1, the pad follows one cycle later (output stage).
    snaps = run_both(lambda b: setup_sm(b, BLINK, pins=[0], set_count=1), [200, 1000, 50_000])
    edges = snaps[-1]["traces"][0]
    assert edges[:4] == [(0, 0), (2, 1), (20, 0), (38, 1)]
    assert all(b[0] - a[0] == 18 for a, b in zip(edges[1:], edges[2:]))
    assert len(edges) == 1 + (51_200 - 2) // 18 + 1


def test_blink_with_integer_divider_scales_every_edge():
    snaps = run_both(
        lambda b: setup_sm(b, BLINK, pins=[0], set_count=1, clkdiv=3 << 16), [500, 5000]
    )
    edges = snaps[-1]["traces"][0]
    assert edges[:3] == [(0, 0), (4, 1), (58, 0)]  # tick 1 at cycle 3, pad at 4; 18 ticks * 3


def test_fractional_divider_2_5_gives_periods_2_3_2_3():
    prog = "set pindirs, 1\n.wrap_target\nset pins, 1\nset pins, 0\n.wrap"
    snaps = run_both(
        lambda b: setup_sm(b, prog, pins=[0], set_count=1, clkdiv=(2 << 16) | (128 << 8)), [40]
    )
    edges = [c for c, _ in snaps[0]["traces"][0][1:]]
    # ticks at floor(k * 2.5): 0, 2, 5, 7, 10, 12, 15 ... ; the pad follows one cycle later
    assert edges[:6] == [3, 6, 8, 11, 13, 16]
    assert [b - a for a, b in zip(edges, edges[1:6])] == [3, 2, 3, 2, 3]


def test_delay_is_not_counted_while_a_wait_stalls():
    prog = "set pindirs, 1\nwait 1 gpio 5 [3]\nset pins, 1\nnop"

    def build(b):
        setup_sm(b, prog, pins=[0], set_count=1)
        b.drive(5, 1, at=100)

    snaps = run_both(build, [300])
    # pad 5 high at 100 -> seen at tick 103 (synchroniser) -> 3 delay ticks -> set at 107 -> 108
    assert snaps[0]["traces"][0] == [(0, 0), (108, 1)]


def test_synchroniser_latency_is_4_cycles_and_2_with_bypass():
    """Luke Wren's loop-back test (pio-and-rp2.md §1.10): 16 x `in pins, 1 side 1` then
    16 x `in pins, 1 side 0`; each sample shows the side-set of 4 (2 bypassed) ticks before."""
    prog = ".side_set 1\n" + "in pins, 1 side 1\n" * 16 + "in pins, 1 side 0\n" * 16

    def build(bypass):
        def f(b):
            b.write32(PIO_BASE[0] + 0x038, bypass)
            setup_sm(
                b,
                prog,
                pins=[0],
                side_base=0,
                in_base=0,
                set_count=1,
                shiftctrl=shiftctrl(autopush=True),
                start=False,
            )
            b.write32(PIO_BASE[0] + 0xC8 + 16, 0xE081)  # set pindirs, 1
            b.write32(PIO_BASE[0] + SET_ALIAS, 0x101)

        return f

    synced = run_both(build(0), [40])[0]["pio0"]["sm"][0]["rx"]
    bypassed = run_both(build(1), [40])[0]["pio0"]["sm"][0]["rx"]
    # shift right: sample k lands in bit k. Synchronised: samples 4..19 see 1 -> 0x000FFFF0.
    assert synced == [0x000FFFF0]
    assert bypassed == [0x0003FFFC]


def test_synchronised_start_has_zero_skew_and_separate_starts_do_not():
    prog = "set pindirs, 1\n.wrap_target\nset pins, 1 [3]\nset pins, 0 [5]\n.wrap"

    def together(b):
        setup_sm(b, prog, sm=0, pins=[0], set_base=0, set_count=1, start=False)
        setup_sm(b, prog, sm=1, offset=8, pins=[1], set_base=1, set_count=1, start=False)
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x303)

    def apart(b):
        setup_sm(b, prog, sm=0, pins=[0], set_base=0, set_count=1, start=False)
        setup_sm(b, prog, sm=1, offset=8, pins=[1], set_base=1, set_count=1, start=False)
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x101)
        b.advance(7)
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x202)

    s = run_both(together, [1000])[0]["traces"]
    assert s[0] == s[1] and len(s[0]) > 50
    s = run_both(apart, [1000])[0]["traces"]
    assert [c + 7 for c, _ in s[0][1:10]] == [c for c, _ in s[1][1:10]]


def test_irq_handshake_between_state_machines_is_visible_next_cycle():
    def build(b):
        setup_sm(
            b,
            "set pindirs, 1\nirq wait 0\nset pins, 1\nend:\njmp end",
            sm=0,
            pins=[0],
            set_count=1,
            start=False,
        )
        setup_sm(
            b,
            "set pindirs, 1\nwait 1 irq 0\nset pins, 1\nend:\njmp end",
            sm=1,
            offset=8,
            pins=[1],
            set_base=1,
            set_count=1,
            start=False,
        )
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x303)

    s = run_both(build, [50])[0]
    # tick 1: SM0 raises flag 0 (visible at 2); tick 2: SM1's wait sees it and clears it
    # (visible at 3); tick 3: SM0 sees it cleared and completes; tick 3/4: the two sets.
    assert s["traces"][1] == [(0, 0), (4, 1)]
    assert s["traces"][0] == [(0, 0), (5, 1)]
    assert s["pio0"]["irq"] == 0


def test_side_set_is_applied_on_the_first_cycle_of_a_stalled_instruction():
    prog = ".side_set 1 opt\nset pindirs, 1\npull block side 1\nnop side 0\nend:\njmp end"

    def build(b):
        setup_sm(b, prog, pins=[0], side_base=0, set_count=1)
        b.schedule(50, lambda bb: bb.write32(PIO_BASE[0] + 0x010, 1))

    s = run_both(build, [100])[0]
    # side 1 at tick 1 (pad 2) while the pull stalls; the word arrives at 50, pull completes
    # at tick 50, `nop side 0` at 51 -> pad 52
    assert s["traces"][0] == [(0, 0), (2, 1), (52, 0)]


def test_polling_loop_timestamps_every_edge_of_a_driven_pin():
    cap = """
    mov y, ~null
    .wrap_target
    low:
    jmp pin rise
    jmp y-- low
    rise:
    in y, 32
    high:
    jmp pin still
    jmp fall
    still:
    jmp y-- high
    fall:
    in y, 32
    .wrap
    """

    def build(b):
        setup_sm(b, cap, jmp_pin=7, shiftctrl=shiftctrl(autopush=True))
        for k, at in enumerate([1000, 1500, 90_001, 90_002, 150_000]):
            b.drive(7, 1 - k % 2, at=at)

    s = run_both(build, [500, 200_000])[-1]
    ys = s["pio0"]["sm"][0]["rx"]
    assert len(ys) == 4  # the 5th capture waits for RX space (4-deep FIFO)
    # rise at 1000 is seen by `jmp pin` at tick 1003; y-- ran at ticks 2, 4 .. 1002 (501x).
    # fall at 1500 seen at 1503; y-- at 1006 .. 1502 (+249). The loop phase then flips: the
    # 1-cycle pulse at 90001 is seen at tick 90004 (+44249) and its fall at once (+0).
    assert [(0xFFFFFFFF - y) for y in ys] == [501, 750, 44_999, 44_999]


def test_fast_and_single_step_agree_mid_loop_for_inspection():
    board = emuboard.Board()
    setup_sm(board, "set x, 31\nloop:\njmp x-- loop [2]\nnop")
    board.advance(1 + 3 * 10 + 1)
    m = board.pio[0].sm[0]
    # tick 0: set x; jmp x-- at ticks 1, 4 .. 31 (11 times, 3 ticks each): x = 20, in its delay
    assert (m.pc, m.x, m.delay) == (1, 20, 2)


def test_pin_priority_highest_sm_wins_and_side_set_beats_set():
    def build(b):
        # SM0 and SM1 write GPIO 0 in the same cycles with opposite values: SM1 wins
        setup_sm(
            b,
            "set pindirs, 1\nset pins, 0\nset pins, 1\nend:\njmp end",
            sm=0,
            pins=[0],
            set_count=1,
            start=False,
        )
        setup_sm(
            b,
            "set pindirs, 1\nset pins, 1\nset pins, 0\nend:\njmp end",
            sm=1,
            offset=8,
            set_count=1,
            start=False,
        )
        # SM2: `set pins, 0 side 1` on GPIO 5 -> the side-set value wins within the SM
        setup_sm(
            b,
            ".side_set 1 opt\nset pindirs, 1\nset pins, 0 side 1\nend:\njmp end",
            sm=2,
            offset=16,
            pins=[5],
            set_base=5,
            set_count=1,
            side_base=5,
            start=False,
        )
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x707)

    s = run_both(build, [20])[0]
    # tick 1: SM0 `set pins, 0` and SM1 `set pins, 1` -> 1 at the pad (cycle 2); tick 2: 0
    assert s["traces"][0] == [(0, 0), (2, 1), (3, 0)]
    assert s["traces"][5] == [(0, 0), (2, 1)]


def _side_set_loop_on_sm1(b):
    """SM1: `jmp x-- loop side 1 [3]` 32 times on pin 0 (ticks 2, 6 .. 126), then side 0."""
    setup_sm(
        b,
        ".side_set 1\nset pindirs, 1 side 1\nset x, 31 side 1\nloop:\n"
        "jmp x-- loop side 1 [3]\nend:\njmp end side 0",
        sm=1,
        offset=8,
        pins=[0],
        side_base=0,
        set_count=1,
        start=False,
    )


def test_summarised_side_set_loop_reasserts_a_pin_another_sm_overwrote():
    def build(b):
        # SM1 spins in `jmp x-- self side 1` (a no-op rewrite once the pin is high, so the
        # fast path skips it); SM0 pulls the same pin low now and then: SM1's next side-set
        # restores it, exactly as in single-step
        _side_set_loop_on_sm1(b)
        setup_sm(
            b,
            "nop [20]\nset pins, 0\nnop [30]\nset pins, 0\nend:\njmp end",
            sm=0,
            set_count=1,
            start=False,
        )
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x303)

    s = run_both(build, [7, 30, 100, 200])[-1]
    # jmp x-- runs at ticks 2, 6 .. 126 (32 times, [3] each); `jmp end side 0` at tick 130
    assert s["traces"][0] == [(0, 0), (1, 1), (22, 0), (23, 1), (54, 0), (55, 1), (131, 0)]


def test_summarised_side_set_loop_wins_a_same_cycle_conflict_by_priority():
    def build(b):
        _side_set_loop_on_sm1(b)
        # SM0 writes at tick 22, the same tick SM1 executes `jmp x-- loop side 1`: SM1 wins
        setup_sm(b, "nop [21]\nset pins, 0\nend:\njmp end", sm=0, set_count=1, start=False)
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x303)

    s = run_both(build, [7, 30, 200])[-1]
    assert s["traces"][0] == [(0, 0), (1, 1), (131, 0)]


def test_exec_of_a_stalling_wait_is_retried_until_the_pin_rises():
    def build(b):
        # mov exec, x with X = `wait 1 gpio 3` (0x2083): the executee stalls, then completes
        setup_sm(b, "set pindirs, 1\nmov exec, x\nset pins, 1\nend:\njmp end", pins=[0],
                 set_count=1, start=False)  # fmt: skip
        b.pio[0].sm[0].x = 0x2083
        b.write32(PIO_BASE[0] + SET_ALIAS, 0x101)
        b.drive(3, 1, at=500)

    s = run_both(build, [100, 1000])[-1]
    # pin 3 rises at 500, the executee sees it at tick 503; `set pins, 1` at 504 -> pad 505
    assert s["traces"][0] == [(0, 0), (505, 1)]


def test_state_machines_of_two_blocks_follow_each_other_through_the_pads():
    def build(b):
        # PIO1 SM0 toggles GPIO 4 every 40 cycles; PIO0 SM2 mirrors it on GPIO 0 via WAITs
        setup_sm(b, "set pindirs, 1\n.wrap_target\nset pins, 1 [19]\nnop [19]\nset pins, 0 [19]\n"
                 "nop [19]\n.wrap", block=1, pins=[4], set_base=4, set_count=1)  # fmt: skip
        setup_sm(b, "set pindirs, 1\n.wrap_target\nwait 1 gpio 4\nset pins, 1\nwait 0 gpio 4\n"
                 "set pins, 0\n.wrap", sm=2, pins=[0], set_count=1)  # fmt: skip

    s = run_both(build, [33, 400])[-1]
    src = [c for c, _ in s["traces"][4][1:]]
    dst = [c for c, _ in s["traces"][0][1:]]
    assert src[:4] == [2, 42, 82, 122]
    # seen 3 cycles after the pad change, `set` one tick later, pad one cycle after that
    assert dst == [c + 5 for c in src][: len(dst)] and len(dst) >= 9
