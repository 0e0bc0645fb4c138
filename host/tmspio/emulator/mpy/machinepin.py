"""machine.Pin of the emulated board (MicroPython v1.28.0 ports/rp2/machine_pin.c).

Pin modes, pulls and values through SIO, IO_BANK0 and PADS_BANK0 as the pico-sdk gpio helpers
do it; Pin.irq through the board's edge watcher, dispatched as mp_irq_handler does (softirq).
"""

try:
    from . import rp2regs as regs
    from . import softirq
    from .cpubus import board as _board
    from .cpubus import board_state as _board_state
    from .cpubus import charge as _charge
    from .cpubus import rd as _rd
    from .cpubus import wr as _wr
    from .cpubus import write_masked as _write_masked
except ImportError:
    import rp2regs as regs
    import softirq
    from cpubus import board as _board
    from cpubus import board_state as _board_state
    from cpubus import charge as _charge
    from cpubus import rd as _rd
    from cpubus import wr as _wr
    from cpubus import write_masked as _write_masked

SIO_BASE = regs.SIO_BASE
GPIO_FUNC_SIO = regs.GPIO_FUNC_SIO
# machine_pin.c's ALT_* constants of the RP2040 build
_ALT_FUNCTIONS = {
    "ALT_SPI": 1,
    "ALT_UART": 2,
    "ALT_I2C": 3,
    "ALT_PWM": 4,
    "ALT_SIO": 5,
    "ALT_PIO0": 6,
    "ALT_PIO1": 7,
    "ALT_GPCK": 8,
    "ALT_USB": 9,
}

_UNSET = object()


# ---- per-board software state (open-drain mask, IRQ objects) ------------------------------


class _State:
    def __init__(self, board):
        self.board = board
        self.open_drain = 0
        self.pin_irq = {}


_states = [None]


def _state():
    return _board_state(_states, _State)


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


def _pads(gpio):
    return regs.PADS_BANK0 + 4 + 4 * gpio


def _io_ctrl(gpio):
    return regs.IO_BANK0 + 8 * gpio + 4


def gpio_set_function(board, gpio, func):
    """pico-sdk gpio_set_function: pad IE on and OD off, then FUNCSEL."""
    _write_masked(board, _pads(gpio), regs.PADS_IE, regs.PADS_IE | regs.PADS_OD)
    _wr(board, _io_ctrl(gpio), func)


def _gpio_get_function(board, gpio):
    return _rd(board, _io_ctrl(gpio)) & regs.FUNCSEL_MASK


def _gpio_set_dir(board, gpio, out):
    _wr(board, SIO_BASE + (regs.SIO_GPIO_OE_SET if out else regs.SIO_GPIO_OE_CLR), 1 << gpio)


def _gpio_put(board, gpio, value):
    _wr(board, SIO_BASE + (regs.SIO_GPIO_OUT_SET if value else regs.SIO_GPIO_OUT_CLR), 1 << gpio)


def _gpio_get(board, gpio):
    return (_rd(board, SIO_BASE + regs.SIO_GPIO_IN) >> gpio) & 1


def _gpio_is_dir_out(board, gpio):
    return (_rd(board, SIO_BASE + regs.SIO_GPIO_OE) >> gpio) & 1


def _gpio_set_pulls(board, gpio, up, down):
    _write_masked(
        board,
        _pads(gpio),
        (regs.PADS_PUE if up else 0) | (regs.PADS_PDE if down else 0),
        regs.PADS_PUE | regs.PADS_PDE,
    )


# ---- Pin ---------------------------------------------------------------------------------------


def pin_id(id):
    board = _board()
    if isinstance(id, Pin):
        return id._id
    if isinstance(id, int) and not isinstance(id, bool):
        if 0 <= id < regs.NUM_GPIOS:
            return id
        raise ValueError("invalid pin")
    if isinstance(id, str):
        if id.startswith("GPIO") and id[4:].isdigit():
            return pin_id(int(id[4:]))
        led = getattr(board, "led_pin", None)
        if id == "LED" and led is not None:
            return led
        raise ValueError(
            "unknown named pin {!r}: the emulated board knows GPIO0..GPIO{}{}".format(
                id, regs.NUM_GPIOS - 1, " and LED" if led is not None else ""
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
        self._id = pin_id(id)
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
        pads = _rd(board, _pads(self._id))
        if pads & regs.PADS_PUE:
            text += ", pull=PULL_UP"
        if pads & regs.PADS_PDE:
            text += "|PULL_DOWN" if pads & regs.PADS_PUE else ", pull=PULL_DOWN"
        if func != GPIO_FUNC_SIO:
            name = None
            for key, value in _ALT_FUNCTIONS.items():
                if value == func and name is None:
                    name = key
            text += ", alt=%s" % name if name else ", alt=%d" % func
        _charge(board)
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
                if alt not in _ALT_FUNCTIONS.values():
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
            _wr(board, SIO_BASE + regs.SIO_GPIO_OUT_XOR, 1 << self._id)
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
                            self._id,
                            _make_edge_callback(st, irq, event),
                            rising=rising,
                            falling=not rising,
                            cpu=True,
                        )
                    )
        _charge(board)
        return irq


for _name, _value in _ALT_FUNCTIONS.items():
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
