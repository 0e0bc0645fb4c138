"""rp2.DMA of the emulated board (MicroPython v1.28.0 ports/rp2/rp2_dma.c on the bus)."""

try:
    from . import rp2bus, softirq
    from . import rp2regs as regs
except ImportError:
    import rp2bus
    import rp2regs as regs
    import softirq

_IRQ, _UNSET, _EBUSY, _WAIT_SLICE = rp2bus._IRQ, rp2bus._UNSET, rp2bus._EBUSY, rp2bus._WAIT_SLICE
_board, _charge, _rd, _wr = rp2bus._board, rp2bus._charge, rp2bus._rd, rp2bus._wr
_peek, _poke, _state, _states = rp2bus._peek, rp2bus._poke, rp2bus._state, rp2bus._states


def make_dma_isr(st):
    def isr(line):
        if _states[0] is not st:
            return
        board = st.board
        ints = _rd(board, regs.DMA_BASE + regs.DMA_INTS0)
        for channel in range(regs.DMA_CHANNELS):
            if ints & (1 << channel):
                irq = st.dma_irq.get(channel)
                if irq is not None:
                    _wr(board, regs.DMA_BASE + regs.DMA_INTS0, 1 << channel)
                    irq._parent._irq_flag = 1
                    softirq.dispatch(irq, irq._parent)

    return isr


class _DMAIRQ(_IRQ):
    """rp2_dma_irq_info: flags() is the channel's irq_flag, trigger() its INTS0 bit."""

    def flags(self):
        return self._parent._irq_flag

    def trigger(self, new_trigger=None):
        board = _board()
        bit = 1 << self._parent._channel
        if new_trigger is None:
            result = 1 if _rd(board, regs.DMA_BASE + regs.DMA_INTS0) & bit else 0
        else:
            self._parent._irq_flag = 0
            alias = regs.SET_ALIAS if new_trigger else regs.CLR_ALIAS
            _wr(board, regs.DMA_BASE + regs.DMA_INTE0 + alias, bit)
            result = 0
        _charge(board)
        return result


# ---- DMA -----------------------------------------------------------------------------------

_CTRL_FIELDS = (
    # name, shift, width, read_only (RP2040 CTRL layout)
    ("enable", 0, 1, False),
    ("high_pri", 1, 1, False),
    ("size", 2, 2, False),
    ("inc_read", 4, 1, False),
    ("inc_write", 5, 1, False),
    ("ring_size", 6, 4, False),
    ("ring_sel", 10, 1, False),
    ("chain_to", 11, 4, False),
    ("treq_sel", 15, 6, False),
    ("irq_quiet", 21, 1, False),
    ("bswap", 22, 1, False),
    ("sniff_en", 23, 1, False),
    ("busy", 24, 1, True),
    ("write_err", 29, 1, False),
    ("read_err", 30, 1, False),
    ("ahb_err", 31, 1, True),
)
_FIELD_SHIFT = {}
for _f in _CTRL_FIELDS:
    _FIELD_SHIFT[_f[0]] = _f[1]


class _Registers:
    """Word-indexed view of hardware registers through the bus (DMA.registers).

    Slicing gives a sub-view whose address DMA.config(read=/write=) accepts, as the device's
    memoryview slices are accepted for chaining one channel's registers from another.
    """

    def __init__(self, base, count):
        self._base = base
        self._count = count

    def __len__(self):
        return self._count

    def _index(self, i):
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError("memoryview index out of range")
        return self._base + 4 * i

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self._count)
            if step != 1:  # the device's memoryview raises exactly this for a stepped slice
                raise NotImplementedError("only slices with step=1 (aka None) are supported")
            return _Registers(self._base + 4 * start, max(0, stop - start))
        board = _board()
        value = _rd(board, self._index(i))
        _charge(board)
        return value

    def __setitem__(self, i, value):
        board = _board()
        _wr(board, self._index(i), value)
        _charge(board)

    def address(self):
        return self._base


def _address(obj, for_write):
    """rp2_dma_register_value_from_obj for read/write: a buffer's address or an int."""
    if hasattr(obj, "txf_address"):  # a StateMachine: its FIFO port (buffer protocol)
        return obj.txf_address() if for_write else obj.rxf_address()
    if isinstance(obj, _Registers):
        return obj.address()
    if isinstance(obj, int):
        return obj & 0xFFFFFFFF
    if for_write and isinstance(obj, bytes):
        raise TypeError("DMA write address: bytes are read-only")
    return _board().dma_address(obj) & 0xFFFFFFFF


def _read_address(value):
    return _address(value, False)


def _write_address(value):
    return _address(value, True)


def _word(value):
    return value


# DMA attributes and config() keywords: name, register, its trigger alias, value conversion
_ATTRS = (
    ("read", regs.DMA_READ_ADDR, regs.DMA_AL3_READ_ADDR_TRIG, _read_address),
    ("write", regs.DMA_WRITE_ADDR, regs.DMA_AL2_WRITE_ADDR_TRIG, _write_address),
    ("count", regs.DMA_TRANS_COUNT, regs.DMA_AL1_TRANS_COUNT_TRIG, _word),
    ("ctrl", regs.DMA_AL1_CTRL, regs.DMA_CTRL_TRIG, _word),
)


def _attribute(attr):
    """A DMA attribute (read, write, count, ctrl): one access to the channel register."""
    _, offset, _, convert = attr

    def get(self):
        board = self._open()
        value = _rd(board, self._reg(offset))
        _charge(board)
        return value

    def put(self, value):
        board = self._open()
        _wr(board, self._reg(offset), convert(value))
        _charge(board)

    return property(get, put)


class DMA:
    read = _attribute(_ATTRS[0])
    write = _attribute(_ATTRS[1])
    count = _attribute(_ATTRS[2])
    ctrl = _attribute(_ATTRS[3])

    def __init__(self):
        st = _state()
        for channel in range(regs.DMA_CHANNELS):
            if not st.dma_claimed & (1 << channel):
                st.dma_claimed |= 1 << channel
                self._channel = channel
                self._irq_flag = 0
                return
        raise OSError(_EBUSY)

    def __repr__(self):
        return "DMA(%d)" % self._channel

    def _open(self):
        if self._channel is None:
            raise ValueError("channel closed")
        return _board()

    def _reg(self, offset):
        return regs.DMA_BASE + regs.DMA_CH_STRIDE * self._channel + offset

    @property
    def channel(self):
        return 0xFF if self._channel is None else self._channel

    @property
    def registers(self):
        """The channel's 16 registers (a memoryview on the device; a bus proxy here)."""
        self._open()
        return _Registers(regs.DMA_BASE + regs.DMA_CH_STRIDE * self._channel, 16)

    def config(self, *, read=None, write=None, count=None, ctrl=None, trigger=False):
        board = self._open()
        given = [
            (attr, value)
            for attr, value in zip(_ATTRS, (read, write, count, ctrl))
            if value is not None
        ]
        if trigger and not given:
            self._start(board)
            _charge(board)
            return
        last = len(given) - 1
        for i in range(len(given)):
            (_, plain, trig, convert), value = given[i]
            offset = trig if trigger and i == last else plain
            _wr(board, self._reg(offset), convert(value))
        _charge(board)

    def _start(self, board):
        _wr(board, regs.DMA_BASE + regs.DMA_MULTI_CHAN_TRIGGER, 1 << self._channel)

    def _busy(self, board):
        return 1 if _rd(board, self._reg(regs.DMA_CTRL_TRIG)) & regs.DMA_CTRL_BUSY else 0

    def active(self, value=None):
        board = self._open()
        if value is not None:
            if value:
                self._start(board)
            else:
                _abort(board, self._channel)
        busy = bool(self._busy(board))
        _charge(board)
        return busy

    def irq(self, handler=_UNSET, hard=_UNSET):
        board = self._open()
        st = _state()
        irq = st.dma_irq.get(self._channel)
        if irq is None:
            irq = _DMAIRQ(self)
            st.dma_irq[self._channel] = irq
            # stale flags are not ours
            _wr(board, regs.DMA_BASE + regs.DMA_INTS0, 1 << self._channel)
        if handler is _UNSET and hard is _UNSET:
            return irq
        irq._handler = None if handler is _UNSET else handler
        irq._hard = False if hard is _UNSET else bool(hard)
        self._irq_flag = 0
        if irq._handler is not None and not st.dma_hooked:
            st.dma_hooked = True  # watch DMA_IRQ_0 once a handler exists
            board.watch_dma_irq(make_dma_isr(st), line=0)
        alias = regs.SET_ALIAS if irq._handler is not None else regs.CLR_ALIAS
        _wr(board, regs.DMA_BASE + regs.DMA_INTE0 + alias, 1 << self._channel)
        _charge(board)
        return irq

    def close(self):
        if self._channel is None:
            return
        board = _board()
        st = _state()
        close_channel(board, self._channel)
        _charge(board)
        st.dma_irq.pop(self._channel, None)
        st.dma_claimed &= ~(1 << self._channel)
        self._channel = None

    def pack_ctrl(self, *args, **kw):
        if args:
            raise TypeError("pack_ctrl only takes keyword arguments")
        _board()
        remaining = len(kw)
        if "default" in kw:
            remaining -= 1
            value = kw["default"] & 0xFFFFFFFF
        else:
            value = _default_ctrl(self.channel)
        for name, shift, width, read_only in _CTRL_FIELDS:
            if name not in kw:
                continue
            remaining -= 1
            if read_only:
                continue  # ignored so unpack_ctrl() results can be passed back
            field_value = kw[name]
            mask = (1 << width) - 1
            if field_value & mask != field_value:
                raise ValueError("bad field value")
            value = (value & ~(mask << shift)) | (field_value << shift)
        if remaining:
            unknown = [k for k in kw if k != "default" and k not in _FIELD_SHIFT]
            raise TypeError("unexpected keyword argument {!r}".format(unknown[0]))
        return value

    @staticmethod
    def unpack_ctrl(value):
        _board()
        return {
            name: (value >> shift) & ((1 << width) - 1) for name, shift, width, _ in _CTRL_FIELDS
        }


def close_channel(board, channel, timed=True):
    """rp2_dma.c close: IRQ off, dma_channel_configure(ctrl=0, NULL, NULL, 0), abort.
    timed=False: the soft-reset clean-up, whose CPU time is not counted."""
    wr = _wr if timed else _poke
    wr(board, regs.DMA_BASE + regs.DMA_INTE0 + regs.CLR_ALIAS, 1 << channel)
    base = regs.DMA_BASE + regs.DMA_CH_STRIDE * channel
    wr(board, base + regs.DMA_READ_ADDR, 0)
    wr(board, base + regs.DMA_WRITE_ADDR, 0)
    wr(board, base + regs.DMA_TRANS_COUNT, 0)
    wr(board, base + regs.DMA_AL1_CTRL, 0)
    _abort(board, channel, timed)


def _abort(board, channel, timed=True):
    """dma_channel_abort: CHAN_ABORT, then wait until BUSY clears (the polls are free)."""
    (_wr if timed else _poke)(board, regs.DMA_BASE + regs.DMA_CHAN_ABORT, 1 << channel)
    ctrl = regs.DMA_BASE + regs.DMA_CH_STRIDE * channel + regs.DMA_CTRL_TRIG
    if not (_rd if timed else _peek)(board, ctrl) & regs.DMA_CTRL_BUSY:
        return
    while _peek(board, ctrl) & regs.DMA_CTRL_BUSY:
        board.run(until=lambda b: not _peek(b, ctrl) & regs.DMA_CTRL_BUSY, max_cycles=_WAIT_SLICE)


def _default_ctrl(channel):
    """rp2_dma.c DEFAULT_DMA_CONFIG | chain_to = own channel."""
    value = 0
    for name, field_value in (
        ("irq_quiet", 1),
        ("treq_sel", 0x3F),
        ("inc_write", 1),
        ("inc_read", 1),
        ("size", 2),
        ("enable", 1),
        ("chain_to", channel & 0xF),
    ):
        value |= field_value << _FIELD_SHIFT[name]
    return value
