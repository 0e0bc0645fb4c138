"""Shared parts of the rp2 stand-in: bus access, per-board state, IRQ objects."""

try:
    from . import rp2regs as regs
    from .cpubus import board as _board
    from .cpubus import board_state as _board_state
    from .cpubus import charge as _charge
    from .cpubus import peek as _peek
    from .cpubus import poke as _poke
    from .cpubus import rd as _rd
    from .cpubus import wr as _wr
    from .cpubus import write_masked as _write_masked
    from .rp2040.errors import EmulatorError
except ImportError:
    import rp2regs as regs
    from cpubus import board as _board
    from cpubus import board_state as _board_state
    from cpubus import charge as _charge
    from cpubus import peek as _peek
    from cpubus import poke as _poke
    from cpubus import rd as _rd
    from cpubus import wr as _wr
    from cpubus import write_masked as _write_masked
    from rp2040.errors import EmulatorError

__all__ = ["EmulatorError", "_board", "_charge", "_peek", "_poke", "_rd", "_wr", "_write_masked"]

_UNSET = object()
_ENOMEM = 12
_EBUSY = 16


def _pin_number(pin, what):
    if isinstance(pin, int) and not isinstance(pin, bool):
        number = pin
    elif hasattr(pin, "_id"):
        number = pin._id
    else:
        raise TypeError("{}: expected a Pin or a GPIO number, got {!r}".format(what, pin))
    if not 0 <= number < regs.NUM_GPIOS:
        raise ValueError(
            "{}: GPIO {} does not exist (allowed 0..{})".format(what, number, regs.NUM_GPIOS - 1)
        )
    return number


_WAIT_SLICE = 1 << 20  # cycles per board.run() while a DMA abort completes


# ---- per-board software state --------------------------------------------------------------


class _State:
    def __init__(self, board):
        self.board = board
        npio = regs.NUM_PIOS
        self.used = [0] * npio  # SDK _used_instruction_space
        self.managed = [0] * npio  # rp2_pio_instruction_memory_usage_mask
        self.loaded = [[] for _ in range(npio)]  # program lists holding reserved memory
        self.released = [[] for _ in range(npio)]  # lists whose memory remove_program() freed
        self.imem = [[-1] * 32 for _ in range(npio)]  # words this module wrote (write-only)
        self.sdk_claimed = [0] * npio  # SDK SM claims (one bit per SM)
        self.claimed = 0  # rp2_state_machine_claimed_mask (bit per global SM id)
        self.initial_pc = [0] * (npio * 4)
        self.pio_irq = [None] * npio
        self.sm_irq = [None] * (npio * 4)
        self.dma_claimed = 0
        self.dma_irq = {}
        self.pio_hooked = [False] * npio  # IRQ0 line of each block watched (lazily: watching
        self.dma_hooked = False  # costs time on every bus access, so only once a handler exists)


_states = [None]


def _state():
    return _board_state(_states, _State)


class _IRQ:
    """The mp_irq object returned by .irq(): flags() and trigger()."""

    def __init__(self, parent):
        self._parent = parent
        self._handler = None
        self._hard = False
        self._flags = 0
        self._trigger = 0

    def flags(self):
        return self._flags

    def trigger(self, new_trigger=None):
        if new_trigger is None:
            return self._trigger
        self._flags = 0
        self._trigger = new_trigger
        return 0

    def configure(self, handler, trigger, hard, default_trigger):
        """.irq(handler, trigger, hard) of the owner: False when called without arguments
        (just return the object), else the handler is (re)set and flags cleared."""
        if handler is _UNSET and trigger is _UNSET and hard is _UNSET:
            return False
        self._handler = None if handler is _UNSET else handler
        self._hard = False if hard is _UNSET else bool(hard)
        self._flags = 0
        self._trigger = default_trigger if trigger is _UNSET else trigger
        return True
