"""`machine` of the emulated board (MicroPython v1.28.0 ports/rp2 semantics).

Pin (machinepin.py), mem8/16/32, freq, WDT, reset/soft_reset/reset_cause, unique_id, idle, disable_irq/
enable_irq and time_pulse_us, implemented as the port's C code does them through the board's
bus (SIO, IO_BANK0, PADS_BANK0) so rp2 and mem32 observe the same registers.
Pin.irq handlers are called from the board's edge watcher at the edge cycle: hard=True
handlers run right there (deferred while disable_irq() is in force), soft ones through the
soft-IRQ queue (depth 8, dropped when full, as mp_irq_handler does on rp2).
"""

try:
    from . import machinepin, softirq
    from . import time as _time
    from .cpubus import board as _board
    from .cpubus import charge as _charge
    from .cpubus import rd as _rd
    from .cpubus import register_access as _register_access
    from .cpubus import wr as _wr
    from .rp2040.errors import BoardReset, EmulatorError
except ImportError:
    import time as _time

    import machinepin
    import softirq
    from cpubus import board as _board
    from cpubus import charge as _charge
    from cpubus import rd as _rd
    from cpubus import register_access as _register_access
    from cpubus import wr as _wr
    from rp2040.errors import BoardReset, EmulatorError

Pin = machinepin.Pin
soft_reset_state = machinepin.soft_reset_state

PWRON_RESET = 1
WDT_RESET = 3

WDT_TIMEOUT_MAX = 8388  # ms (ports/rp2/machine_wdt.c)
_XOSC_KHZ = 12000
_VCO_MIN_KHZ = 750000
_VCO_MAX_KHZ = 1600000


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
            raise ValueError("address %08x is not aligned to %d bytes" % (addr, self._width))
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
        raise TypeError(
            "can't convert %s to int" % type(hz if not isinstance(hz, int) else peri_hz).__name__
        )
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
    gpio = machinepin.pin_id(pin)
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
        _register_access(board)
        _charge(board)

    def feed(self):
        board = _board()
        board.watchdog_feed()
        _register_access(board)
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
