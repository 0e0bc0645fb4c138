"""machine stand-ins on the emulated board: Pin on SIO/IO_BANK0/PADS, Pin.irq at the edge
cycle, mem8/16/32, freq, WDT, resets, and the PIO/SM interrupt handlers of rp2."""

# ruff: noqa: F821 - @asm_pio bodies use DSL names that exist only while they run

import pytest
import simrig
from tmspio.emulator import ACCESS_CYCLES, BoardReset, EmulatorError, machine, rp2
from tmspio.emulator.mpy import time as emutime

Pin = machine.Pin
IO_BANK0 = 0x40014000
PADS_BANK0 = 0x4001C000
SIO = 0xD0000000
PIO0 = 0x50200000


@pytest.fixture
def board():
    return simrig.standin_board()


def test_pin_modes_write_sio_io_bank0_and_pads(board):
    led = Pin(25, Pin.OUT, value=1)
    assert (board.level(25), board.read32(IO_BANK0 + 8 * 25 + 4)) == (1, 5)
    assert board.read32(SIO + 0x20) == 1 << 25  # OE
    assert board.read32(PADS_BANK0 + 4 + 4 * 25) == 0x52  # IE, 4 mA, Schmitt; pulls cleared
    led.toggle()
    led.on()
    led.off()
    led(1)
    assert [level for _, level in board.trace(25)] == [0, 1, 0, 1, 0, 1]
    assert repr(led) == "Pin(GPIO25, mode=OUT)"
    button = Pin(12, Pin.IN, Pin.PULL_UP)
    assert (button.value(), repr(button)) == (1, "Pin(GPIO12, mode=IN, pull=PULL_UP)")
    board.drive(12, 0)
    emutime.sleep_us(1)  # two synchroniser cycles before SIO sees it
    assert button() == 0
    drain = Pin(3, Pin.OPEN_DRAIN, value=0)
    assert (board.level(3), board.read32(SIO + 0x20) >> 3 & 1) == (0, 1)
    drain.value(1)  # released: output disabled; Pin() without pull cleared the pull-down
    assert (board.read32(SIO + 0x20) >> 3 & 1, repr(drain)) == (0, "Pin(GPIO3, mode=OPEN_DRAIN)")


def test_pin_names_and_bad_ids(board):
    assert Pin("GPIO7") == Pin(7)
    with pytest.raises(ValueError, match="^invalid pin$"):
        Pin(30)
    with pytest.raises(
        ValueError,
        match=r"^unknown named pin 'LED': the emulated board knows "
        r"GPIO0..GPIO29$",
    ):
        Pin("LED")
    with pytest.raises(ValueError, match="^invalid pin af: 99$"):
        Pin(4, Pin.ALT, alt=99)
    with pytest.raises(EmulatorError, match="^IO_BANK0 GPIO4_CTRL FUNCSEL=2 is not modelled"):
        Pin(4, Pin.ALT, alt=Pin.ALT_UART)


def test_pin_alt_pio_steals_nothing_but_sets_funcsel(board):
    Pin(9, Pin.ALT, alt=Pin.ALT_PIO1)
    assert board.read32(IO_BANK0 + 8 * 9 + 4) == 7
    assert repr(Pin(9)) == "Pin(GPIO9, mode=ALT, alt=ALT_PIO1)"


def test_hard_pin_irq_runs_at_the_edge_cycle(board):
    seen = []
    pin = Pin(10, Pin.IN)
    irq = pin.irq(
        lambda p: seen.append((p, p.irq().flags(), board.cycle)), trigger=Pin.IRQ_RISING, hard=True
    )
    edge = board.cycle + 10_000
    board.drive(10, 1, at=edge)
    board.drive(10, 0, at=edge + 500)
    emutime.sleep_ms(1)
    assert seen == [(pin, Pin.IRQ_RISING, edge)]
    assert irq.trigger() == Pin.IRQ_RISING
    irq.trigger(Pin.IRQ_FALLING | Pin.IRQ_RISING)
    board.drive(10, 1, at=board.cycle + 7)
    emutime.sleep_ms(1)
    assert [flags for _, flags, _ in seen] == [Pin.IRQ_RISING, Pin.IRQ_RISING]
    pin.irq(None)
    board.drive(10, 0)
    emutime.sleep_ms(1)
    assert len(seen) == 2


def test_soft_pin_irq_runs_promptly_while_sleeping(board):
    seen = []
    Pin(11, Pin.IN).irq(lambda p: seen.append(board.cycle))
    start = board.cycle
    for i in range(4):
        board.drive(11, i % 2 == 0, at=start + 100 + 10 * i)
    emutime.sleep_ms(1)  # sleep services the scheduler: each handler right after its edge
    assert seen == [start + 101, start + 111, start + 121, start + 131]


def test_soft_pin_irq_runs_when_the_stand_in_call_it_fired_in_returns(board):
    # The VM runs scheduled handlers between bytecodes: a busy loop of mem32 reads services
    # them without any sleep, right after the call during which the edge happened.
    seen = []
    Pin(11, Pin.IN).irq(lambda p: seen.append(board.cycle), trigger=Pin.IRQ_RISING)
    start = board.cycle
    board.drive(11, 1, at=start + 300)
    for _ in range(5):
        machine.mem32[PIO0]
    assert seen == [start + 3 * ACCESS_CYCLES]


def test_soft_pin_irqs_past_queue_depth_8_are_dropped(board):
    seen = []
    Pin(11, Pin.IN).irq(lambda p: seen.append(board.cycle))
    start = board.cycle
    for i in range(10):
        board.drive(11, i % 2 == 0, at=start + 100 + 10 * i)
    board.cpu(250)  # busy CPU: nothing services the scheduler during these edges
    emutime.sleep_us(1)
    assert seen == [start + 250] * 8  # the queue (depth 8) dropped the last two


def test_disable_irq_defers_hard_handlers(board):
    seen = []
    Pin(13, Pin.IN).irq(lambda p: seen.append(board.cycle), trigger=Pin.IRQ_RISING, hard=True)
    state = machine.disable_irq()
    board.drive(13, 1, at=board.cycle + 5)
    emutime.sleep_us(1)
    assert seen == []
    released = board.cycle
    machine.enable_irq(state)
    assert seen == [released]


def test_mem_reads_are_signed_and_narrow_writes_replicate(board):
    machine.mem32[PIO0 + 0x38] = 0xFFFFFFFF  # INPUT_SYNC_BYPASS
    assert machine.mem32[PIO0 + 0x38] == -1
    assert machine.mem16[PIO0 + 0x3A] == 0xFFFF
    assert machine.mem8[PIO0 + 0x39] == 0xFF
    machine.mem8[PIO0 + 0x10] = 0xA5  # TXF0: a byte write pushes a replicated word
    assert rp2.StateMachine(0).tx_fifo() == 1
    rp2.StateMachine(0).exec(0x80A0)  # pull
    rp2.StateMachine(0).exec(0xA0C7)  # mov isr, osr
    rp2.StateMachine(0).exec(0x8020)  # push
    assert rp2.StateMachine(0).get() == 0xA5A5A5A5
    with pytest.raises(ValueError, match="^address 50200039 is not aligned to 4 bytes$"):
        machine.mem32[PIO0 + 0x39]
    with pytest.raises(ValueError, match="^address 50200039 is not aligned to 2 bytes$"):
        machine.mem16[PIO0 + 0x39] = 1


def test_each_access_costs_cpu_time(board):
    start = board.cycle
    for _ in range(10):
        machine.mem32[PIO0]
    assert board.cycle - start == 10 * ACCESS_CYCLES


def test_freq_changes_sysclk_only_to_exact_pll_settings(board):
    assert machine.freq() == 125_000_000
    emutime.sleep_us(1000)
    machine.freq(133_000_000)
    assert (machine.freq(), board.sysclk) == (133_000_000, 133_000_000)
    emutime.sleep_us(1000)
    assert emutime.ticks_us() == 2000  # the microsecond timer is not retuned
    machine.freq(48_000_999)  # set_sys_clock_khz(freq // 1000)
    assert machine.freq() == 48_000_000
    with pytest.raises(ValueError, match="^cannot change frequency$"):
        machine.freq(123_456_789)
    with pytest.raises(ValueError, match="^peripheral freq must be 48_000_000 or the same"):
        machine.freq(125_000_000, 60_000_000)
    assert machine.freq() == 125_000_000  # as on the device: clk_sys changed before the check
    with pytest.raises(TypeError):
        machine.freq(125e6)


def test_watchdog_starvation_resets_the_board(board):
    assert machine.reset_cause() == machine.PWRON_RESET
    Pin(25, Pin.OUT, value=1)
    wdt = machine.WDT(timeout=2)
    emutime.sleep_ms(1)
    wdt.feed()
    emutime.sleep_ms(1)
    wdt.feed()
    fed = board.cycle
    with pytest.raises(BoardReset) as err:
        emutime.sleep_ms(5)
    assert (err.value.cause, err.value.cycle) == ("watchdog", fed - ACCESS_CYCLES + 250_000)
    assert machine.reset_cause() == machine.WDT_RESET
    assert (board.level(25), board.read32(IO_BANK0 + 8 * 25 + 4)) == (0, 31)  # power-up state
    with pytest.raises(ValueError, match="^timeout exceeds 8388$"):
        machine.WDT(timeout=8389)
    with pytest.raises(ValueError, match=r"^WDT\(1\) doesn't exist$"):
        machine.WDT(1)


def test_reset_and_soft_reset_raise_board_reset(board):
    with pytest.raises(BoardReset) as err:
        machine.reset()
    assert err.value.cause == "watchdog" and machine.reset_cause() == machine.WDT_RESET
    sm = rp2.StateMachine(0, _spin)
    sm.active(1)
    with pytest.raises(BoardReset) as err:
        machine.soft_reset()
    assert err.value.cause == "soft"
    rp2.soft_reset()  # what the runner does next: claimed SMs are disabled, PIO flags kept
    assert board.read32(PIO0) == 0


@rp2.asm_pio()
def _spin():
    nop()


# fmt: off
@rp2.asm_pio()
def flagger():
    wrap_target()
    irq(rel(0))             # raise flag sm_id (SM-relative)
    nop()          [30]
    wrap()
# fmt: on


def test_state_machine_irq_handler_is_called_and_the_flag_acked(board):
    seen = []
    sm = rp2.StateMachine(1, flagger, freq=125_000)  # raises flag 1 every 32 ticks
    sm.irq(lambda s: seen.append((s, board.cycle)), hard=True)
    assert board.read32(PIO0 + 0x12C) == 1 << 9  # IRQ0_INTE: SM1 flag
    sm.active(1)
    emutime.sleep_ms(1)
    assert [s for s, _ in seen] == [sm] * 4
    assert [b - a for (_, a), (_, b) in zip(seen, seen[1:])] == [32000] * 3
    assert board.read32(PIO0 + 0x30) == 0  # acknowledged before the handler ran
    sm.irq(None)
    assert board.read32(PIO0 + 0x12C) == 0


def test_pio_irq_handler_gets_the_pio_and_flags(board):
    seen = []
    rp2.PIO(0).irq(lambda p: seen.append((p, p.irq().flags())), trigger=rp2.PIO.IRQ_SM2, hard=True)
    sm = rp2.StateMachine(2, flagger, freq=125_000)
    sm.active(1)
    emutime.sleep_us(100)
    assert seen == [(rp2.PIO(0), rp2.PIO.IRQ_SM2)]


def test_misc(board):
    assert machine.unique_id() == b"EMUBOARD"
    start = board.cycle
    machine.idle()  # no handler due: WFE returns after its 1 ms cap
    assert board.cycle - start == 125_000
    with pytest.raises(Exception, match="lightsleep"):
        machine.lightsleep(10)


def test_time_pulse_us(board):
    Pin(14, Pin.IN)
    start = board.cycle
    board.drive(14, 1, at=start + 1000)
    board.drive(14, 0, at=start + 1000 + 50 * 125)
    assert machine.time_pulse_us(Pin(14), 1) == 50
    assert machine.time_pulse_us(14, 1, 200) == -2  # the pulse never starts
    board.drive(14, 1)
    assert machine.time_pulse_us(14, 1, 300) == -1  # already high: it never ends
    # the falling edge's cycle is processed (+1), then the two timeouts run out in full
    assert board.cycle - start == 1000 + 50 * 125 + 1 + 200 * 125 + 300 * 125


@pytest.mark.parametrize(
    "make",
    [
        lambda: machine.Timer(-1),
        lambda: machine.UART(0),
        lambda: machine.PWM(Pin(2)),
        lambda: rp2.bootsel_button(),
        lambda: rp2.Flash(),
    ],
)
def test_unmodelled_peripherals_raise_emulator_error(board, make):
    with pytest.raises(
        EmulatorError,
        match=r"^(machine|rp2)\.\w+ is not modelled by the "
        r"emulated board \(modelled: ",
    ):
        make()


def test_hard_handlers_do_not_nest(board):
    seen = []

    def busy(pin):
        seen.append(("in", pin, board.cycle))
        board.cpu(1000)  # the handler's own CPU time: the second edge happens meanwhile
        seen.append(("out", pin, board.cycle))

    a, b = Pin(7, Pin.IN), Pin(8, Pin.IN)
    a.irq(busy, trigger=Pin.IRQ_RISING, hard=True)
    b.irq(busy, trigger=Pin.IRQ_RISING, hard=True)
    start = board.cycle
    board.drive(7, 1, at=start + 100)
    board.drive(8, 1, at=start + 500)
    emutime.sleep_us(100)
    assert seen == [
        ("in", a, start + 100),
        ("out", a, start + 1100),
        ("in", b, start + 1100),
        ("out", b, start + 2100),
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda: Pin(2),
        lambda: machine.mem32[0x50200000],
        lambda: rp2.PIO(0),
        lambda: rp2.StateMachine(0),
        lambda: rp2.DMA(),
        lambda: machine.WDT(timeout=100),
    ],
)
def test_stand_ins_refuse_a_board_that_is_not_an_rp2040(board, call):
    board.chip = "rp2350"  # Board() refuses it; the stand-ins carry no RP2350 register map
    with pytest.raises(
        EmulatorError,
        match="^machine/rp2 stand-ins: chip 'rp2350' is not modelled; allowed: 'rp2040'$",
    ):
        call()


def test_pio_pin_arguments_beyond_gpio29_are_refused(board):
    with pytest.raises(ValueError, match=r"^in_base: GPIO 30 does not exist \(allowed 0..29\)$"):
        rp2.StateMachine(0, _spin, in_base=30)


def test_a_pin_group_running_past_gpio29_is_refused(board):
    @rp2.asm_pio(set_init=(rp2.PIO.OUT_LOW,) * 3)
    def three():
        set(pins, 7)

    with pytest.raises(
        EmulatorError,
        match="^StateMachine: set_base=28 with 3 pins reaches "
        "GPIO30: MicroPython v1.28 would shift",
    ):
        rp2.StateMachine(0, three, set_base=28)
    rp2.StateMachine(0, three, set_base=27)  # GPIO27..29: fine
    assert board.read32(IO_BANK0 + 8 * 29 + 4) == 6
