"""`machine` of the emulated board (MicroPython v1.28.0 ports/rp2 semantics).

Pin, mem8/16/32, freq, WDT, reset/soft_reset/reset_cause, unique_id, idle, disable_irq/
enable_irq and time_pulse_us, implemented as the port's C code does them through the board's
bus (SIO, IO_BANK0, PADS_BANK0) so rp2 and mem32 observe the same registers.
Pin.irq handlers are called from the board's edge watcher at the edge cycle: hard=True
handlers run right there (deferred while disable_irq() is in force), soft ones through the
soft-IRQ queue (depth 8, dropped when full, as mp_irq_handler does on rp2).
"""

try:
    from . import emuboard, softirq
    from . import time as _time
    from .emuerror import BoardReset, EmulatorError
except ImportError:
    import time as _time

    import emuboard
    import softirq
    from emuerror import BoardReset, EmulatorError

SIO_BASE = 0xD0000000
SIO_GPIO_IN = 0x004
SIO_GPIO_OUT = 0x010
SIO_GPIO_OUT_SET = 0x014
SIO_GPIO_OUT_CLR = 0x018
SIO_GPIO_OUT_XOR = 0x01C
SIO_GPIO_OE = 0x020
SIO_GPIO_OE_SET = 0x024
SIO_GPIO_OE_CLR = 0x028
IO_BANK0 = {"rp2040": 0x40014000, "rp2350": 0x40028000}
PADS_BANK0 = {"rp2040": 0x4001C000, "rp2350": 0x40038000}
XOR_ALIAS = 0x1000
CLR_ALIAS = 0x3000
PADS_PDE = 1 << 2
PADS_PUE = 1 << 3
PADS_IE = 1 << 6
PADS_OD = 1 << 7
PADS_ISO = 1 << 8
FUNCSEL_MASK = 0x1F
GPIO_FUNC_SIO = 5

PWRON_RESET = 1
WDT_RESET = 3

WDT_TIMEOUT_MAX = 8388  # ms (ports/rp2/machine_wdt.c)
_XOSC_KHZ = 12000
_VCO_MIN_KHZ = 750000
_VCO_MAX_KHZ = 1600000

_UNSET = object()


def _board():
    return emuboard.current()


def _chip(board):
    return board.chip


def _rd(board, addr):
    return board.read32(addr) & 0xFFFFFFFF


def _wr(board, addr, value):
    board.write32(addr, value & 0xFFFFFFFF)


def _charge(board):
    """CPU time of one call into the port (emuboard.ACCESS_CYCLES per stand-in call)."""
    board.cpu(emuboard.ACCESS_CYCLES)


def _num_gpios(board):
    return getattr(board, "num_gpios", 30)


# ---- per-board software state (open-drain mask, IRQ objects) ------------------------------


class _State:
    def __init__(self, board):
        self.board = board
        self.open_drain = 0
        self.pin_irq = {}


_states = [None]


def _state():
    board = _board()
    st = _states[0]
    if st is None or st.board is not board:
        st = _State(board)
        _states[0] = st
    return st


def soft_reset_state():
    """Soft reset: Pin IRQ handlers and open-drain bookkeeping go (machine_pin_deinit)."""
    st = _states[0]
    if st is not None:
        for irq in st.pin_irq.values():
            irq._handler = None
            for handle in irq._watches:
                st.board.unwatch(handle)
            irq._watches = []
    _states[0] = None


# ---- pico-sdk gpio helpers on the bus ----------------------------------------------------------


def _pads(board, gpio):
    return PADS_BANK0[_chip(board)] + 4 + 4 * gpio


def _io_ctrl(board, gpio):
    return IO_BANK0[_chip(board)] + 8 * gpio + 4


def _write_masked(board, addr, values, mask):
    """hw_write_masked: XOR-alias write of the bits that differ."""
    _wr(board, addr + XOR_ALIAS, (_rd(board, addr) ^ values) & mask)


def gpio_set_function(board, gpio, func):
    pads = _pads(board, gpio)
    _write_masked(board, pads, PADS_IE, PADS_IE | PADS_OD)
    _wr(board, _io_ctrl(board, gpio), func)
    if _chip(board) == "rp2350":
        _wr(board, pads + CLR_ALIAS, PADS_ISO)


def _gpio_get_function(board, gpio):
    return _rd(board, _io_ctrl(board, gpio)) & FUNCSEL_MASK


def _gpio_set_dir(board, gpio, out):
    _wr(board, SIO_BASE + (SIO_GPIO_OE_SET if out else SIO_GPIO_OE_CLR), 1 << gpio)


def _gpio_put(board, gpio, value):
    _wr(board, SIO_BASE + (SIO_GPIO_OUT_SET if value else SIO_GPIO_OUT_CLR), 1 << gpio)


def _gpio_get(board, gpio):
    return (_rd(board, SIO_BASE + SIO_GPIO_IN) >> gpio) & 1


def _gpio_is_dir_out(board, gpio):
    return (_rd(board, SIO_BASE + SIO_GPIO_OE) >> gpio) & 1


def _gpio_set_pulls(board, gpio, up, down):
    _write_masked(
        board,
        _pads(board, gpio),
        (PADS_PUE if up else 0) | (PADS_PDE if down else 0),
        PADS_PUE | PADS_PDE,
    )


# ---- Pin ---------------------------------------------------------------------------------------


def _alt_functions(chip):
    if chip == "rp2350":
        return {"ALT_SPI": 1, "ALT_UART": 2, "ALT_I2C": 3, "ALT_PWM": 4, "ALT_SIO": 5,
                "ALT_PIO0": 6, "ALT_PIO1": 7, "ALT_PIO2": 8, "ALT_GPCK": 9, "ALT_USB": 10,
                "ALT_HSTX": 0, "ALT_XIP_CS1": 9, "ALT_CORESIGHT_TRACE": 9, "ALT_UART_AUX": 11}
    return {"ALT_SPI": 1, "ALT_UART": 2, "ALT_I2C": 3, "ALT_PWM": 4, "ALT_SIO": 5,
            "ALT_PIO0": 6, "ALT_PIO1": 7, "ALT_GPCK": 8, "ALT_USB": 9}


def _pin_id(id):
    board = _board()
    if isinstance(id, Pin):
        return id._id
    if isinstance(id, int) and not isinstance(id, bool):
        if 0 <= id < _num_gpios(board):
            return id
        raise ValueError("invalid pin")
    if isinstance(id, str):
        if id.startswith("GPIO") and id[4:].isdigit():
            return _pin_id(int(id[4:]))
        led = getattr(board, "led_pin", None)
        if id == "LED" and led is not None:
            return led
        raise ValueError(
            "unknown named pin {!r}: the emulated board knows GPIO0..GPIO{}{}".format(
                id, _num_gpios(board) - 1, " and LED" if led is not None else ""
            )
        )
    raise TypeError("expecting a pin")


class _PinIRQ:
    def __init__(self, pin):
        self._pin = pin
        self._handler = None
        self._hard = False
        self._flags = 0
        self._trigger = 0
        self._watches = []

    def flags(self):
        return self._flags

    def trigger(self, new_trigger=None):
        if new_trigger is None:
            return self._trigger
        self._pin.irq(self._handler, new_trigger, self._hard)
        return 0


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, *args, **kw):
        self._id = _pin_id(id)
        if args or kw:
            self.init(*args, **kw)

    def __repr__(self):
        board = _board()
        st = _state()
        func = _gpio_get_function(board, self._id)
        if func == GPIO_FUNC_SIO:
            if st.open_drain & (1 << self._id):
                mode = "OPEN_DRAIN"
            elif _gpio_is_dir_out(board, self._id):
                mode = "OUT"
            else:
                mode = "IN"
        else:
            mode = "ALT"
        text = "Pin(GPIO%d, mode=%s" % (self._id, mode)
        pads = _rd(board, _pads(board, self._id))
        if pads & PADS_PUE:
            text += ", pull=PULL_UP"
        if pads & PADS_PDE:
            text += "|PULL_DOWN" if pads & PADS_PUE else ", pull=PULL_DOWN"
        if func != GPIO_FUNC_SIO:
            name = None
            for key, value in _alt_functions(_chip(board)).items():
                if value == func and name is None:
                    name = key
            text += ", alt=%s" % name if name else ", alt=%d" % func
        return text + ")"

    def __eq__(self, other):
        return isinstance(other, Pin) and other._id == self._id

    def __hash__(self):
        return self._id

    def init(self, mode=None, pull=None, *, value=None, alt=GPIO_FUNC_SIO):
        board = _board()
        st = _state()
        gpio = self._id
        bit = 1 << gpio
        level = -1 if value is None else (1 if value else 0)
        if mode is not None:
            if mode == Pin.IN:
                _gpio_set_dir(board, gpio, False)
                st.open_drain &= ~bit
                gpio_set_function(board, gpio, GPIO_FUNC_SIO)
            elif mode == Pin.OUT:
                if level != -1:
                    _gpio_put(board, gpio, level)
                _gpio_set_dir(board, gpio, True)
                st.open_drain &= ~bit
                gpio_set_function(board, gpio, GPIO_FUNC_SIO)
            elif mode == Pin.OPEN_DRAIN:
                if level == 0:
                    _gpio_put(board, gpio, 0)
                    _gpio_set_dir(board, gpio, True)
                else:
                    _gpio_set_dir(board, gpio, False)
                    _gpio_put(board, gpio, 0)
                st.open_drain |= bit
                gpio_set_function(board, gpio, GPIO_FUNC_SIO)
            else:
                if alt not in _alt_functions(_chip(board)).values():
                    raise ValueError("invalid pin af: %d" % alt)
                gpio_set_function(board, gpio, alt)
                st.open_drain &= ~bit
        # Pulls are rewritten unconditionally: None means no pull.
        pull = 0 if pull is None else pull
        _gpio_set_pulls(board, gpio, pull & Pin.PULL_UP, pull & Pin.PULL_DOWN)
        _charge(board)

    def value(self, value=_UNSET):
        if value is _UNSET:
            board = _board()
            level = _gpio_get(board, self._id)
            _charge(board)
            return level
        self._set(1 if value else 0)
        return None

    def __call__(self, value=_UNSET):
        return self.value(value)

    def _set(self, level):
        board = _board()
        if _state().open_drain & (1 << self._id):
            _gpio_set_dir(board, self._id, not level)
        else:
            _gpio_put(board, self._id, level)
        _charge(board)

    def on(self):
        self._set(1)

    def off(self):
        self._set(0)

    high = on
    low = off

    def toggle(self):
        board = _board()
        if _state().open_drain & (1 << self._id):
            _gpio_set_dir(board, self._id, not _gpio_is_dir_out(board, self._id))
        else:
            _wr(board, SIO_BASE + SIO_GPIO_OUT_XOR, 1 << self._id)
        _charge(board)

    def irq(self, handler=_UNSET, trigger=_UNSET, hard=_UNSET):
        st = _state()
        irq = st.pin_irq.get(self._id)
        if irq is None:
            irq = _PinIRQ(self)
            st.pin_irq[self._id] = irq
        if handler is _UNSET and trigger is _UNSET and hard is _UNSET:
            return irq  # no arguments: just the IRQ object
        handler = None if handler is _UNSET else handler
        trigger = 12 if trigger is _UNSET else trigger  # IRQ_FALLING | IRQ_RISING
        hard = False if hard is _UNSET else hard
        irq._handler = handler
        irq._hard = bool(hard)
        irq._flags = 0
        irq._trigger = trigger
        board = st.board
        for handle in irq._watches:
            board.unwatch(handle)
        irq._watches = []
        if handler is not None and trigger:
            for event, rising in ((Pin.IRQ_RISING, True), (Pin.IRQ_FALLING, False)):
                if trigger & event:
                    irq._watches.append(
                        board.watch_edges(
                            self._id, _make_edge_callback(st, irq, event), rising=rising,
                            falling=not rising, cpu=True,
                        )
                    )
        _charge(board)
        return irq


# Class constants of the RP2040 build (the only chip the board models); set here without
# creating a board at import time.
for _name, _value in _alt_functions("rp2040").items():
    setattr(Pin, _name, _value)


def _make_edge_callback(st, irq, event):
    def on_edge(pin, cycle):
        if _states[0] is not st or irq._handler is None:
            return
        irq._flags = event
        _dispatch(irq, irq._pin)

    return on_edge


def _dispatch(irq, arg):
    softirq.dispatch(irq, arg)


def disable_irq():
    return softirq.disable()


def enable_irq(state=0):
    softirq.enable(state)


# ---- memory --------------------------------------------------------------------------------


class _Mem:
    def __init__(self, width):
        self._width = width

    def _addr(self, addr):
        addr &= 0xFFFFFFFF
        if addr & (self._width - 1):
            raise ValueError(
                "address %08x is not aligned to %d bytes" % (addr, self._width)
            )
        return addr

    def __getitem__(self, addr):
        addr = self._addr(addr)
        board = _board()
        word = _rd(board, addr & ~3)
        _charge(board)
        if self._width == 4:
            return word - (1 << 32) if word & 0x80000000 else word  # signed, as on the device
        shift = 8 * (addr & 3)
        return (word >> shift) & ((1 << (8 * self._width)) - 1)

    def __setitem__(self, addr, value):
        addr = self._addr(addr)
        value &= (1 << (8 * self._width)) - 1
        if self._width == 1:
            value *= 0x01010101  # narrow writes to IO registers replicate across the bus
        elif self._width == 2:
            value *= 0x00010001
        board = _board()
        _wr(board, addr & ~3, value)
        _charge(board)


mem8 = _Mem(1)
mem16 = _Mem(2)
mem32 = _Mem(4)


# ---- clocks, resets, watchdog ---------------------------------------------------------------


def _pll_achievable(freq_khz):
    """pico-sdk check_sys_clock_khz: exact VCO/postdiv solution from the 12 MHz crystal."""
    for fbdiv in range(320, 15, -1):
        vco = fbdiv * _XOSC_KHZ
        if vco < _VCO_MIN_KHZ or vco > _VCO_MAX_KHZ:
            continue
        for postdiv1 in range(7, 0, -1):
            for postdiv2 in range(postdiv1, 0, -1):
                if vco // (postdiv1 * postdiv2) == freq_khz and not vco % (postdiv1 * postdiv2):
                    return True
    return False


def freq(hz=None, peri_hz=None):
    board = _board()
    if hz is None:
        return board.sysclk
    if not isinstance(hz, int) or (peri_hz is not None and not isinstance(peri_hz, int)):
        raise TypeError("can't convert %s to int" % type(hz if not isinstance(hz, int)
                                                          else peri_hz).__name__)
    khz = hz // 1000
    if not _pll_achievable(khz):
        raise ValueError("cannot change frequency")
    _time.rebase(board)  # the 1 MHz timer runs from clk_ref: keep microseconds continuous
    board.sysclk = khz * 1000
    _time.rebase(board)
    # modmachine.c checks the peripheral clock only after clk_sys has changed.
    if peri_hz is not None and peri_hz != 48000000 and peri_hz != hz:
        raise ValueError("peripheral freq must be 48_000_000 or the same as the MCU freq")
    return None


def reset_cause():
    return WDT_RESET if _board().reset_cause == "watchdog" else PWRON_RESET


def reset():
    """watchdog_reboot(0, SRAM_END, 0): a watchdog reset; the runner restarts boot.py/main.py."""
    _board().reset("watchdog")
    raise BoardReset("watchdog", _board().cycle)


def soft_reset():
    """Ctrl-D: the interpreter restarts; hardware keeps running (claimed SMs get disabled)."""
    raise BoardReset("soft", _board().cycle)


def unique_id():
    # The emulated board's flash ID: an obviously synthetic value.
    return b"EMUBOARD"


def idle():
    """WFE with a 1 ms cap (ports/rp2 mp_machine_idle): returns early when a handler is due."""
    board = _board()
    _time.run_until(board, lambda b: softirq.runnable(), _time.cycles_for_us(1000, board))
    softirq.run_pending()


def lightsleep(ms=None):
    raise EmulatorError("machine.lightsleep() is not modelled by the emulated board")


def deepsleep(ms=None):
    raise EmulatorError("machine.deepsleep() is not modelled by the emulated board")


def bootloader(value=None):
    raise EmulatorError("machine.bootloader() is not modelled by the emulated board")


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    """extmod/machine_pulse.c: -2 if the pulse never started, -1 if it never ended."""
    board = _board()
    gpio = _pin_id(pin)
    limit = _time.cycles_for_us(timeout_us, board)

    def level_is(v):
        return lambda b: b.level(gpio) == v

    if board.level(gpio) != pulse_level:
        if not _time.run_until(board, level_is(pulse_level), limit):
            return -2
    start = _time.now_us_exact(board)
    _time.run_until(board, level_is(1 - pulse_level), limit)
    if board.level(gpio) == pulse_level:
        return -1
    return _time.now_us_exact(board) - start


class WDT:
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        if not 0 <= timeout <= WDT_TIMEOUT_MAX:
            raise ValueError("timeout exceeds %d" % WDT_TIMEOUT_MAX)
        board = _board()
        # The watchdog counts microsecond ticks from clk_ref, not sysclk cycles.
        board.watchdog_start(max(1, _time.cycles_for_us(timeout * 1000, board)))
        _charge(board)

    def feed(self):
        board = _board()
        board.watchdog_feed()
        _charge(board)


def _unmodelled(name):
    class Unmodelled:
        def __init__(self, *args, **kw):
            raise EmulatorError(
                "machine.%s is not modelled by the emulated board (modelled: Pin, mem8/16/32, "
                "freq, WDT, reset, soft_reset, reset_cause, unique_id, idle, disable_irq, "
                "enable_irq, time_pulse_us)" % name
            )

    Unmodelled.__name__ = name
    return Unmodelled


Timer = _unmodelled("Timer")
UART = _unmodelled("UART")
I2C = _unmodelled("I2C")
SoftI2C = _unmodelled("SoftI2C")
SPI = _unmodelled("SPI")
SoftSPI = _unmodelled("SoftSPI")
PWM = _unmodelled("PWM")
ADC = _unmodelled("ADC")
RTC = _unmodelled("RTC")
I2S = _unmodelled("I2S")
Signal = _unmodelled("Signal")
