"""The CPU side of the bus for the stand-ins (machine, rp2): the board, and what an access costs.

CPU-cost model [modelling choice; the real cost of MicroPython's calls is UNVERIFIED]: every
register access the port's C code makes acts at the board's current cycle and then takes
emuboard.BUS_CYCLES, so the writes of one call reach the hardware in the C code's order, cycles
apart as on the chip (StateMachine.init's forced SET reaches the PIO output register before
FUNCSEL hands the pad to the PIO). At the end of the call `charge()` adds the interpreter's
overhead, ACCESS_CYCLES - BUS_CYCLES: a call making one access (mem32, Pin.value) costs
ACCESS_CYCLES. `peek()` is the uncharged read that wait loops poll with (the wait ends in the
cycle after the condition changes); `poke()` the uncharged write of the reset clean-up. Soft IRQ
handlers queued during a call run when it returns (between bytecodes, as the VM runs them).
The stand-ins model the RP2040 only: a board claiming another chip is refused here, once.
"""

try:
    from . import softirq
    from .rp2040 import board as emuboard
    from .rp2040.errors import EmulatorError
except ImportError:
    import softirq
    from rp2040 import board as emuboard
    from rp2040.errors import EmulatorError


def board():
    """The board the stand-ins act on."""
    b = emuboard.current()
    if b.chip != "rp2040":
        raise EmulatorError(
            "machine/rp2 stand-ins: chip {!r} is not modelled; allowed: 'rp2040'".format(b.chip)
        )
    return b


def board_state(holder, make):
    """A stand-in module's software state for the current board: holder[0], made anew by
    make(board) for another board or after a soft reset cleared it."""
    b = board()
    st = holder[0]
    if st is None or st.board is not b:
        st = make(b)
        holder[0] = st
    return st


def rd(b, addr):
    value = b.read32(addr) & 0xFFFFFFFF
    b.bus_gap(emuboard.BUS_CYCLES)
    return value


def wr(b, addr, value):
    b.write32(addr, value & 0xFFFFFFFF)
    b.bus_gap(emuboard.BUS_CYCLES)


def register_access(b):
    """The time of an access to a register the board models outside the bus (watchdog)."""
    b.bus_gap(emuboard.BUS_CYCLES)


def write_masked(b, addr, values, mask):
    """pico-sdk hw_write_masked: read, then an XOR-alias write of the bits that differ."""
    wr(b, addr + 0x1000, (rd(b, addr) ^ values) & mask)


def peek(b, addr):
    """A read inside a wait loop's condition: no CPU time (board.run() is advancing)."""
    return b.read32(addr) & 0xFFFFFFFF


def poke(b, addr, value):
    """A write whose CPU time the model does not count: the soft-reset clean-up (boot time
    after a reset is zero [modelling choice])."""
    b.write32(addr, value & 0xFFFFFFFF)


def charge(b):
    """The interpreter's overhead of one call, after its accesses; then the call returns to
    the VM, which runs soft IRQ handlers queued meanwhile."""
    b.cpu(emuboard.ACCESS_CYCLES - emuboard.BUS_CYCLES)
    softirq.after_call()
