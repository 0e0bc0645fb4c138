"""rp2.PIO / rp2.StateMachine on the emulated board: the register images rp2_pio.c writes,
SDK program placement and JMP relocation, FIFOs, exec/restart and the refused quirks."""

# ruff: noqa: F821 - @asm_pio bodies use DSL names that exist only while they run

from array import array

import pytest
import simrig
from tmspio.emulator import ACCESS_CYCLES, BUS_CYCLES, Board, EmulatorError, machine, rp2
from tmspio.emulator.mpy import time as emutime

PIO0 = 0x50200000
PIO1 = 0x50300000
IO_BANK0 = 0x40014000
OUT_LOW, OUT_HIGH, IN_LOW = rp2.PIO.OUT_LOW, rp2.PIO.OUT_HIGH, rp2.PIO.IN_LOW


@pytest.fixture
def board():
    return simrig.standin_board()


def sm_reg(base, sm, offset):
    return base + 0xC8 + 0x18 * sm + offset


# fmt: off
@rp2.asm_pio(set_init=(OUT_LOW, OUT_HIGH), sideset_init=OUT_LOW,
             out_init=(OUT_HIGH, OUT_LOW, IN_LOW), in_shiftdir=rp2.PIO.SHIFT_RIGHT,
             autopull=True, pull_thresh=16, fifo_join=rp2.PIO.JOIN_TX)
def full_config():
    label("top")
    pull()
    wrap_target()
    out(pins, 3)    .side(1)
    jmp("top")
    wrap()
# fmt: on


def test_init_writes_the_register_images_of_rp2_pio_c(board):
    rp2.StateMachine(
        5,
        full_config,
        freq=10_000_000,
        in_base=machine.Pin(10),
        out_base=machine.Pin(2),
        set_base=machine.Pin(5),
        jmp_pin=machine.Pin(11),
        sideset_base=machine.Pin(7),
    )
    # Loaded top-down into PIO1 (SM 5 = PIO1 SM1): offset 29, the JMP relocated to 29.
    assert full_config[1:4] == [-1, 29, -1]
    assert board.pio[1].mem[29:32] == [0x80A0, 0b011_11_000_000_00011, 0x001D]
    # 125 MHz * 256 // 10 MHz = 3200 -> INT 12, FRAC 128
    assert board.read32(sm_reg(PIO1, 1, 0x0)) == 0x000C8000
    # SIDE_EN | JMP_PIN 11 | WRAP_TOP 2+29 | WRAP_BOTTOM 1+29
    assert board.read32(sm_reg(PIO1, 1, 0x4)) == 0x40000000 | 11 << 24 | 31 << 12 | 30 << 7
    # FJOIN_TX | PULL_THRESH 16 | PUSH_THRESH 32->0 | IN right | AUTOPULL
    assert board.read32(sm_reg(PIO1, 1, 0x8)) == 0x40000000 | 16 << 25 | 1 << 18 | 1 << 17
    # SIDESET_COUNT 1+opt, SET_COUNT 2, OUT_COUNT 3, IN_BASE 10, SIDESET_BASE 7, SET_BASE 5,
    # OUT_BASE 2
    assert board.read32(sm_reg(PIO1, 1, 0x14)) == 0x48351CA2
    assert board.read32(sm_reg(PIO1, 1, 0xC)) == 29  # forced `jmp 29`: start = program start
    assert board.read32(PIO1) == 0  # left disabled
    # Initial levels/directions forced through SET PINS/PINDIRS; FUNCSEL = PIO1 (7).
    assert [board.level(p) for p in range(2, 8)] == [1, 0, 0, 0, 1, 0]
    assert [board.read32(IO_BANK0 + 8 * p + 4) for p in range(2, 8)] == [7] * 6
    assert board.read32(PIO1 + 0x40) & 0xFC == 0b11101100  # DBG_PADOE: 2, 3, 5, 6, 7 driven


def test_divider_floor_and_special_frequencies(board):
    @rp2.asm_pio()
    def idle():
        nop()

    sm = rp2.StateMachine(0)
    for freq, clkdiv in [
        (-1, 0x10000),
        (0, 0),
        (3_000_000, (41 << 16) | (170 << 8)),
        (1908, (65513 << 16) | (0xA0 << 8)),
    ]:
        sm.init(idle, freq=freq)
        assert board.read32(sm_reg(PIO0, 0, 0)) == clkdiv, freq
    with pytest.raises(ValueError, match="^freq out of range$"):
        sm.init(idle, freq=1907)
    with pytest.raises(ValueError, match="^freq out of range$"):
        sm.init(idle, freq=125_000_001)


def program(n, jump_to=None):
    @rp2.asm_pio()
    def prog():
        label("start")
        for _ in range(n - (1 if jump_to is not None else 0)):
            nop()
        if jump_to is not None:
            jmp("start")

    return prog


def test_top_down_placement_relocation_and_removal(board):
    pio = rp2.PIO(0)
    a, b, c = program(4), program(3, jump_to=0), program(2)
    for prog in (a, b, c):
        pio.add_program(prog)
    assert (a[1], b[1], c[1]) == (28, 25, 23)
    assert board.pio[0].mem[25:28] == [0xA042, 0xA042, 0x0019]  # jmp start -> 25
    pio.remove_program(b)
    assert b[1] == -1
    d = program(4)
    pio.add_program(d)
    assert d[1] == 19  # the 3-slot hole at 25 is too small
    pio.add_program(b)
    assert b[1] == 25
    pio.remove_program(program(5))  # never loaded: a no-op on v1.28
    pio.add_program(program(19))
    with pytest.raises(OSError) as err:
        pio.add_program(program(1))
    assert err.value.args[0] == 12  # ENOMEM
    pio.remove_program()  # everything
    e = program(32)
    pio.add_program(e)
    assert e[1] == 0


def test_program_list_must_have_nine_fields(board):
    with pytest.raises(ValueError, match="^requested length 9 but object has length 8$"):
        rp2.PIO(0).add_program(program(1)[:8])


def test_invalid_ids(board):
    with pytest.raises(ValueError, match="^invalid PIO$"):
        rp2.PIO(2)
    with pytest.raises(ValueError, match="^invalid StateMachine$"):
        rp2.StateMachine(8)
    with pytest.raises(ValueError, match="^invalid StateMachine$"):
        rp2.PIO(1).state_machine(4)
    assert rp2.PIO(1).state_machine(3) == rp2.StateMachine(7)


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"pull_thresh": 32}, "pull_thresh=32"),
        ({"push_thresh": 32}, "push_thresh=32"),
        ({"in_shiftdir": 2}, "in_shiftdir=2"),
    ],
)
def test_unmasked_shift_overrides_are_refused(board, kw, message):
    with pytest.raises(EmulatorError) as err:
        rp2.StateMachine(0, program(1), **kw)
    assert str(err.value).startswith(
        "StateMachine.init({}): MicroPython v1.28 writes this unmasked".format(message)
    )


def test_masked_shift_overrides_are_written(board):
    rp2.StateMachine(0, program(1), pull_thresh=0, push_thresh=8, out_shiftdir=1)
    assert board.read32(sm_reg(PIO0, 0, 0x8)) == 0 << 25 | 8 << 20 | 1 << 19


def test_pin_group_without_its_base_is_refused(board):
    @rp2.asm_pio(sideset_init=OUT_LOW)
    def side():
        nop().side(1)

    with pytest.raises(EmulatorError) as err:
        rp2.StateMachine(0, side)
    assert str(err.value) == (
        "StateMachine: sideset_init given without sideset_base: MicroPython v1.28 would "
        "configure no pins and execute the side-set bits as delay"
    )
    with pytest.raises(EmulatorError) as err:
        rp2.StateMachine(0, program(1), set_base=3)
    assert str(err.value) == (
        "StateMachine: set_base given without set_init: MicroPython v1.28 would configure 0 pins"
    )


# fmt: off
@rp2.asm_pio()
def echo():
    pull()
    mov(isr, invert(osr))
    push()
# fmt: on


def test_put_get_and_fifo_levels(board):
    sm = rp2.StateMachine(0, echo)
    for word in (1, 2, 3, 0xFFFFFFFF):
        sm.put(word)
    assert (sm.tx_fifo(), sm.rx_fifo()) == (4, 0)
    sm.active(1)
    assert [sm.get() for _ in range(4)] == [0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC, 0]
    sm.put(array("H", [0x00FF, 0x0F00]), 8)  # pushes 0x0000FF00, 0x000F0000
    buf = array("h", [0, 0])
    # ~0x0000FF00 = 0xFFFF00FF, ~0x000F0000 = 0xFFF0FFFF: each truncated to int16
    assert sm.get(buf) is buf and list(buf) == [0x00FF, -1]
    sm.put(bytearray(b"\x01\x80"))
    dest = bytearray(2)
    sm.get(dest, 4)  # ~1 >> 4 = 0x0FFFFFFF, ~0x80 >> 4 = 0x0FFFFFF7 -> low bytes
    assert dest == bytearray(b"\xff\xf7")
    with pytest.raises(ValueError, match="^unsupported buffer type$"):
        sm.put(array("b", [1]))
    with pytest.raises(ValueError, match="^unsupported buffer type$"):
        sm.get(array("f", [0.0]))


def test_waiting_on_a_fifo_nothing_will_change_is_an_error(board):
    sm = rp2.StateMachine(0, echo)  # disabled: nobody drains TX or fills RX
    for word in range(4):
        sm.put(word)
    with pytest.raises(EmulatorError) as err:
        sm.put(4)
    assert str(err.value).startswith(
        "StateMachine(0).put(): TX FIFO full; the device would wait forever ("
    )
    with pytest.raises(EmulatorError) as err:
        sm.get()
    assert str(err.value).startswith(
        "StateMachine(0).get(): RX FIFO empty; the device would wait forever ("
    )


# fmt: off
@rp2.asm_pio(out_init=(OUT_LOW,) * 8, out_shiftdir=rp2.PIO.SHIFT_RIGHT)
def slow_out():
    pull()                  # 1 tick
    out(pins, 8)   [30]     # 31 ticks: one word per 32 ticks
# fmt: on


def test_put_blocks_until_the_state_machine_pulls(board):
    sm = rp2.StateMachine(0, slow_out, freq=125_000, out_base=0)  # 1 tick = 1000 cycles
    for word in (1, 2, 3, 4):
        sm.put(word)
    sm.active(1)
    sm.put(5)  # waits for the first pull
    returned = board.cycle
    # The SM pulls at tick T (cycle t), the wait ends after that cycle (t + 1), put() charges
    # one access; OUT runs on the next tick (t + 1000) and the pads follow one cycle later.
    emutime.sleep_ms(2)
    changes = board.trace(0)[1:]  # pin 0 = bit 0 of words 1..5: 1, 0, 1, 0, 1
    assert [level for _, level in changes] == [1, 0, 1, 0, 1]
    assert returned == changes[0][0] - 1 - 1000 + 1 + ACCESS_CYCLES
    assert [b[0] - a[0] for a, b in zip(changes, changes[1:])] == [32000] * 4


def test_exec_restart_and_active(board):
    @rp2.asm_pio(sideset_init=OUT_LOW)
    def prog():
        nop().side(0)
        nop().side(1)

    sm = rp2.StateMachine(0, prog, sideset_base=4)
    sm.exec("set(x, 21)")
    sm.exec("in_(x, 32).side(1)")  # encoded with this SM's side-set count (1)
    sm.exec(0x8020)  # push block
    assert sm.get() == 21
    # Non-optional side-set: the raw PUSH word carries side value 0, one call later.
    (_, start), (up, high), (down, low) = board.trace(4)
    assert (start, high, low, down - up) == (0, 1, 0, ACCESS_CYCLES)
    with pytest.raises(TypeError):  # jmp is not supported by asm_pio_encode (v1.28)
        sm.exec("jmp(1)")
    assert sm.active() is False
    assert sm.active(1) is True
    assert machine.mem32[PIO0] == 1
    sm.active(0)
    sm.restart()
    assert board.read32(sm_reg(PIO0, 0, 0xC)) == prog[1]


def test_remove_all_keeps_offsets_and_reuse_after_overwrite_is_refused(board):
    a = program(3, jump_to=0)
    rp2.StateMachine(0, a)
    assert a[1] == 29
    rp2.PIO(0).remove_program()  # frees the memory; v1.28 leaves a[1] == 29
    assert a[1] == 29
    rp2.StateMachine(0, a)  # trusted offset, memory still holds the program: as on the device
    assert board.read32(sm_reg(PIO0, 0, 0xC)) == 29 and a[1] == 29
    b = program(2)
    rp2.PIO(0).add_program(b)  # the freed top slots are reused
    assert b[1] == 30
    with pytest.raises(EmulatorError) as err:
        rp2.StateMachine(1, a)
    assert str(err.value).startswith(
        "PIO(0): this program's list still says offset 29 after remove_program(), but other "
        "code was loaded there since: MicroPython v1.28 would run that code"
    )


def test_a_program_list_from_another_board_is_loaded_again(board):
    a = program(4)
    rp2.StateMachine(0, a)
    rp2.soft_reset()
    other = Board().activate()
    a[1] = 28  # the list still carries the first board's offset
    rp2.PIO(0).add_program(program(1))  # takes slot 31 on the new board
    rp2.StateMachine(0, a)
    assert a[1] == 27 and other.pio[0].mem[27:31] == [0xA042] * 4


@rp2.asm_pio(set_init=OUT_HIGH)
def hold_high():
    wrap_target()
    nop()
    wrap()


def test_init_hands_a_driven_pad_to_the_pio_without_a_glitch(board):
    # GPIO4 is driven high by SIO; the SM takes it over with set_init=OUT_HIGH. On the chip
    # the forced SET PINS/PINDIRS reach the PIO output register long before FUNCSEL switches,
    # so the pad never drops. (With all writes of init() in one cycle the pad read the PIO's
    # stale output register for one cycle: a 1-0-1 glitch.)
    machine.Pin(4, machine.Pin.OUT, value=1)
    high = board.trace(4)
    rp2.StateMachine(0, hold_high, set_base=4)
    board.advance(10)
    assert board.read32(IO_BANK0 + 8 * 4 + 4) & 0x1F == 6  # FUNCSEL = PIO0
    assert board.trace(4) == high
    assert board.level(4) == 1


def test_a_calls_accesses_are_bus_cycles_apart_and_the_call_costs_access_cycles(board):
    start = board.cycle
    machine.Pin(4, machine.Pin.OUT, value=1)
    # SIO OUT_SET, OE_SET, pads read + XOR write, FUNCSEL (the pad goes high), pads read + XOR
    # write for the pulls: 7 accesses, each BUS_CYCLES, then the call's overhead.
    assert board.trace(4)[1:] == [(start + 4 * BUS_CYCLES, 1)]
    assert board.cycle - start == ACCESS_CYCLES + 6 * BUS_CYCLES
    start = board.cycle
    machine.mem32[PIO0]  # one access: ACCESS_CYCLES in all
    assert board.cycle - start == ACCESS_CYCLES


def test_init_that_loads_its_program_costs_one_call_plus_the_instr_mem_writes(board):
    @rp2.asm_pio()
    def two():
        nop()
        nop()

    start = board.cycle
    rp2.StateMachine(0, two)  # loads: two INSTR_MEM writes inside the same C call
    first = board.cycle - start
    start = board.cycle
    rp2.StateMachine(0, two)  # already loaded
    assert first - (board.cycle - start) == 2 * BUS_CYCLES
