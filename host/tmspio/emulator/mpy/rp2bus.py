"""Shared parts of the rp2 stand-in: bus access, per-board state, IRQ objects."""

try:
    from . import emuboard
    from . import rp2regs as regs
    from .emuerror import EmulatorError
except ImportError:
    import emuboard
    import rp2regs as regs
    from emuerror import EmulatorError

_UNSET = object()
_ENOMEM = 12
_EBUSY = 16

def _board():
    return emuboard.current()


def _chip(board):
    chip = board.chip
    if chip not in regs.NUM_PIOS:
        raise EmulatorError("rp2: chip {!r} is not modelled (rp2040, rp2350)".format(chip))
    return chip


def _rd(board, addr):
    return board.read32(addr) & 0xFFFFFFFF


def _wr(board, addr, value):
    board.write32(addr, value & 0xFFFFFFFF)


def _pin_number(pin, what):
    if isinstance(pin, int) and not isinstance(pin, bool):
        number = pin
    elif hasattr(pin, "_id"):
        number = pin._id
    else:
        raise TypeError("{}: expected a Pin or a GPIO number, got {!r}".format(what, pin))
    if not 0 <= number < 48:
        raise ValueError("{}: GPIO {} does not exist".format(what, number))
    return number


def _charge(board):
    """CPU time of one call into the port (emuboard.ACCESS_CYCLES per stand-in call)."""
    board.cpu(emuboard.ACCESS_CYCLES)


_WAIT_SLICE = 1 << 20  # cycles per board.run() while a DMA abort completes


# ---- per-board software state --------------------------------------------------------------


class _State:
    def __init__(self, board):
        self.board = board
        npio = regs.NUM_PIOS[_chip(board)]
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
    """The stand-in state of the current board (new for a new board or after a soft reset)."""
    board = _board()
    st = _states[0]
    if st is None or st.board is not board:
        st = _State(board)
        _states[0] = st
    return st


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
