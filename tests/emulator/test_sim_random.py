"""Randomised proof that the fast path equals single-step execution.

Random programs (instruction words from every modelled instruction class, random side-set,
delays, wrap), random dividers (integer and fractional), shift/FIFO configuration, external
pin drives, CPU FIFO traffic and DMA feeds; the whole board is compared at checkpoints."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simrig import DMA, PIO_BASE, run_both, shiftctrl

PIN_COUNT = 6  # the SMs and the drives use GPIO 0..5 so programs see each other's pins

# every cross-check: 200 derandomised cases, so a run is repeatable and CI sees the same ones
CROSS_CHECK = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def pin_drives(last, max_size):
    """External drives of GPIO 0..5 (high, low or released) at cycles 1..last."""
    return st.lists(
        st.tuples(
            st.integers(1, last), st.integers(0, PIN_COUNT - 1), st.sampled_from([0, 1, None])
        ),
        max_size=max_size,
    )


def fifo_pushes(last, nsm, max_size):
    """CPU writes of a random word into SM n's TX FIFO at cycles 1..last."""
    return st.lists(
        st.tuples(st.integers(1, last), st.integers(0, nsm - 1), st.integers(0, 0xFFFFFFFF)),
        max_size=max_size,
    )


def cpu_traffic(last, nsm, max_size):
    """cpu_op(kind, sm) register traffic at cycles 1..last."""
    return st.lists(
        st.tuples(st.integers(1, last), st.integers(0, 4), st.integers(0, nsm - 1)),
        max_size=max_size,
    )


@st.composite
def instruction(draw, nbits_delay, prog_len):
    op = draw(st.integers(0, 7))
    delay = draw(st.integers(0, (1 << nbits_delay) - 1)) if nbits_delay else 0
    if op == 0:
        low = (draw(st.integers(0, 7)) << 5) | draw(st.integers(0, prog_len - 1))
    elif op == 1:
        src = draw(st.sampled_from([0, 1, 2]))
        idx = (
            draw(st.integers(0, PIN_COUNT - 1))
            if src < 2
            else draw(st.sampled_from([0, 1, 2, 3, 0x10, 0x11, 4]))
        )
        low = (draw(st.integers(0, 1)) << 7) | (src << 5) | idx
    elif op == 2:
        low = (draw(st.sampled_from([0, 1, 2, 3, 6, 7])) << 5) | draw(st.integers(0, 31))
    elif op == 3:
        low = (draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6])) << 5) | draw(st.integers(0, 31))
    elif op == 4:
        low = draw(st.sampled_from([0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0]))
    elif op == 5:
        dest = draw(st.sampled_from([0, 1, 2, 5, 6, 7]))
        mop = draw(st.integers(0, 2))
        src = draw(st.sampled_from([0, 1, 2, 3, 5, 6, 7]))
        low = (dest << 5) | (mop << 3) | src
    elif op == 6:
        kind = draw(st.sampled_from([0x00, 0x20, 0x40]))
        low = kind | draw(st.sampled_from([0, 1, 2, 3, 4, 5, 0x10, 0x13]))
    else:
        low = (draw(st.sampled_from([0, 1, 2, 4])) << 5) | draw(st.integers(0, 31))
    return (op << 13) | low, delay


@st.composite
def fragment(draw, at, delay_bits, prog_len):
    """A few words starting at relative address `at`: loops the fast path must summarise
    (self-decrement, pin polling, NOP padding, X/Y compare) or one random instruction."""
    kind = draw(st.integers(0, 9))
    d = lambda: draw(st.integers(0, (1 << delay_bits) - 1)) if delay_bits else 0  # noqa: E731
    if kind == 0:  # jmp x--/y-- self
        return [(((draw(st.sampled_from([2, 4])) << 5) | at), d())]
    if kind == 1:  # L: jmp pin out ; jmp y-- L ; out:
        return [((6 << 5) | (at + 2), d()), ((4 << 5) | at, d())]
    if kind == 2:  # L: jmp pin stay ; jmp out ; stay: jmp x-- L ; out:
        return [((6 << 5) | (at + 2), 0), (at + 3, 0), ((2 << 5) | at, d())]
    if kind == 3:  # L: nop [d] ; jmp x-- L
        return [(0xA042, d()), ((2 << 5) | at, d())]
    if kind == 4:  # L: jmp x!=y out ; jmp L  (or !x / !y / !osre polls)
        cond = draw(st.sampled_from([1, 3, 5, 7]))
        return [((cond << 5) | (at + 2), d()), (at, d())]
    if kind == 5:  # wait on a pin
        src = draw(st.integers(0, 1))
        return [
            (
                0x2000
                | (draw(st.integers(0, 1)) << 7)
                | (src << 5)
                | draw(st.integers(0, PIN_COUNT - 1)),
                d(),
            )
        ]
    if kind == 6:  # set x / y to a small count
        return [(0xE000 | (draw(st.integers(1, 2)) << 5) | draw(st.integers(0, 31)), d())]
    return [draw(instruction(delay_bits, prog_len))]


@st.composite
def sm_config(draw, index):
    ss_count = draw(st.integers(0, 2))
    side_en = ss_count > 0 and draw(st.booleans())
    delay_bits = 5 - ss_count
    pairs = []
    for _ in range(draw(st.integers(1, 4))):
        pairs += draw(fragment(len(pairs), delay_bits, 8))
        if len(pairs) >= 7:
            break
    pairs = pairs[:8]
    n = len(pairs)
    words = []
    for w, delay in pairs:
        if w >> 13 == 0 and (w & 31) >= n:
            w &= ~31  # a jump past the end goes to the start
        field = delay
        if ss_count:
            side = draw(st.integers(0, (1 << (ss_count - side_en)) - 1))
            field |= side << delay_bits
            if side_en and draw(st.booleans()):
                field |= 0x10
        words.append((w & 0xE0FF) | (field << 8))
    whole = draw(st.sampled_from([1, 1, 1, 2, 3]))
    frac = draw(st.sampled_from([0, 0, 0, 128, 64]))
    return {
        "words": words,
        "offset": index * 8,
        "n": n,
        "ss_count": ss_count,
        "side_en": side_en,
        "side_pindir": draw(st.booleans()) if ss_count else False,
        "wrap_target": draw(st.integers(0, n - 1)),
        "clkdiv": (whole << 16) | (frac << 8),
        "shift": shiftctrl(
            autopull=draw(st.booleans()),
            autopush=draw(st.booleans()),
            pull_thresh=draw(st.sampled_from([32, 8, 5])),
            push_thresh=draw(st.sampled_from([32, 8, 3])),
            out_right=draw(st.booleans()),
            in_right=draw(st.booleans()),
            join_tx=draw(st.sampled_from([False, False, True])),
        ),
        "pins": draw(st.tuples(*[st.integers(0, PIN_COUNT - 1)] * 5)),
        "x": draw(st.sampled_from([0, 1, 3, 17, 31])),
        "y": draw(st.sampled_from([0, 2, 9, 31])),
    }


def cpu_op(kind, sm):
    """CPU register traffic at a scheduled cycle: FIFO reads, W1C and IRQ writes, FLEVEL."""
    base = PIO_BASE[0]

    def op(b):
        log = b.__dict__.setdefault("test_log", [])
        if kind == 0:
            log.append(b.read32(base + 0x020 + 4 * sm))
        elif kind == 1:
            b.write32(base + 0x008, 0xFFFFFFFF)
        elif kind == 2:
            b.write32(base + 0x034, 1 << sm)
        elif kind == 3:
            b.write32(base + 0x030, 0xFF)
        else:
            log.append(b.read32(base + 0x00C))

    return op


def build_random(cfgs, drives, pushes, bypass, dma_words, cpu_ops=()):
    def build(board):
        base = PIO_BASE[0]
        board.write32(base + 0x038, bypass)
        for i, c in enumerate(cfgs):
            off = c["offset"]
            words = [(w + off) if w >> 13 == 0 else w for w in c["words"]]
            n = len(words)
            for k, w in enumerate(words):
                board.write32(base + 0x48 + 4 * (off + k), w)
            p = c["pins"]
            reg = base + 0xC8 + 0x18 * i
            board.write32(reg, c["clkdiv"])
            board.write32(
                reg + 4,
                (int(c["side_en"]) << 30)
                | (int(c["side_pindir"]) << 29)
                | (p[0] << 24)
                | ((off + n - 1) << 12)
                | ((off + c["wrap_target"]) << 7)
                | 0x2,
            )
            board.write32(reg + 8, c["shift"])
            board.write32(
                reg + 20,
                (c["ss_count"] << 29)
                | (2 << 26)
                | (3 << 20)
                | (p[1] << 15)
                | (p[2] << 10)
                | (p[3] << 5)
                | p[4],
            )
            board.write32(reg + 16, 0xE020 | (c["x"] & 31))  # set x, n
            board.write32(reg + 16, 0xE040 | c["y"])  # set y, n
            board.write32(reg + 16, 0xE083)  # set pindirs, 3: SET pins drive their pads
            board.write32(reg + 16, off)  # jmp offset
        for p in range(PIN_COUNT):
            board.write32(0x40014000 + 8 * p + 4, 6)
        board.write32(base + 0x2000, (0xF if len(cfgs) == 4 else (1 << len(cfgs)) - 1) * 0x101)
        for at, pin, level in drives:
            board.drive(pin, level, at=at)
        for at, sm, value in pushes:
            board.schedule(at, lambda b, sm=sm, v=value: b.write32(base + 0x10 + 4 * sm, v))
        for at, kind, sm in cpu_ops:
            board.schedule(at, cpu_op(kind, sm))
        if dma_words:
            buf = __import__("array").array("I", dma_words)
            addr = board.dma_address(buf)
            board.write32(DMA + 0x00, addr)
            board.write32(DMA + 0x04, base + 0x10)
            board.write32(DMA + 0x08, len(dma_words))
            board.write32(DMA + 0x0C, 1 | (2 << 2) | (1 << 4) | (0 << 15) | (1 << 21))

    return build


@CROSS_CHECK
@given(
    nsm=st.integers(1, 4),
    data=st.data(),
)
def test_random_programs_fast_equals_single_step(nsm, data):
    cfgs = [data.draw(sm_config(i)) for i in range(nsm)]
    drives = data.draw(pin_drives(1200, 12))
    pushes = data.draw(fifo_pushes(1500, nsm, 6))
    bypass = data.draw(st.sampled_from([0, 0, 0b1010, 0x3F]))
    dma_words = data.draw(st.lists(st.integers(0, 0xFFFFFFFF), max_size=6))
    cpu_ops = data.draw(cpu_traffic(1200, nsm, 5))
    build = build_random(cfgs, drives, pushes, bypass, dma_words, cpu_ops)
    checkpoints = data.draw(st.lists(st.integers(1, 700), min_size=2, max_size=4))
    run_both(build, checkpoints)


# ---- straight-line runs (the RUN plan) ----------------------------------------------------------


@st.composite
def pure_word(draw, prog_len):
    """An instruction the RUN plan may take in its dry run (register moves, JMPs of every
    condition, SET/OUT/IN between registers), or now and then one it must stop at."""
    kind = draw(st.integers(0, 9))
    if kind <= 2:  # MOV x/y/isr/osr/pc <- x/y/null/status/isr/osr/pins, op none/invert/reverse
        dest = draw(st.sampled_from([1, 2, 5, 6, 7]))
        src = draw(st.sampled_from([0, 1, 2, 3, 5, 6, 7]))
        return 0xA000 | (dest << 5) | (draw(st.integers(0, 2)) << 3) | src
    if kind == 3:  # SET x/y
        return 0xE000 | (draw(st.integers(1, 2)) << 5) | draw(st.integers(0, 31))
    if kind == 4:  # OUT x/y/null/isr/pc
        dest = draw(st.sampled_from([1, 2, 3, 5, 6]))
        return 0x6000 | (dest << 5) | draw(st.integers(0, 31))
    if kind == 5:  # IN from pins/x/y/null/isr/osr
        return 0x4000 | (draw(st.sampled_from([0, 1, 2, 3, 6, 7])) << 5) | draw(st.integers(0, 31))
    if kind <= 7:  # JMP, any condition, inside the program
        return (draw(st.integers(0, 7)) << 5) | draw(st.integers(0, prog_len - 1))
    # an observable one: SET pins, MOV pins, PUSH/PULL noblock, IRQ set
    return draw(st.sampled_from([0xE001, 0xE000, 0xA001, 0xA00B, 0x8000, 0x8080, 0xC001]))


@st.composite
def straight_config(draw, index):
    ss_count = draw(st.integers(0, 2))
    side_en = ss_count > 0 and draw(st.booleans())
    delay_bits = 5 - ss_count
    n = draw(st.integers(3, 8))
    words = []
    side = draw(st.integers(0, (1 << max(ss_count - side_en, 0)) - 1)) if ss_count else 0
    for _ in range(n):
        w = draw(pure_word(n))
        delay = draw(st.sampled_from([0, 0, 0, 1, 3])) & ((1 << delay_bits) - 1)
        field = delay
        if ss_count:
            if draw(st.integers(0, 3)) == 0:  # mostly the same side-set value: a rewrite
                side = draw(st.integers(0, (1 << (ss_count - side_en)) - 1))
            field |= side << delay_bits
            if side_en and draw(st.booleans()):
                field |= 0x10
        words.append((w & 0xE0FF) | (field << 8))
    return {
        "words": words,
        "offset": index * 8,
        "n": n,
        "ss_count": ss_count,
        "side_en": side_en,
        "side_pindir": draw(st.booleans()) if ss_count else False,
        "wrap_target": draw(st.integers(0, n - 1)),
        "clkdiv": (draw(st.sampled_from([1, 1, 2, 3])) << 16)
        | (draw(st.sampled_from([0, 0, 64])) << 8),
        "shift": shiftctrl(
            autopull=draw(st.sampled_from([False, False, True])),
            autopush=draw(st.sampled_from([False, False, True])),
            pull_thresh=draw(st.sampled_from([32, 8, 5])),
            push_thresh=draw(st.sampled_from([32, 8, 3])),
            out_right=draw(st.booleans()),
            in_right=draw(st.booleans()),
        ),
        "pins": draw(st.tuples(*[st.integers(0, PIN_COUNT - 1)] * 5)),
        "x": draw(st.sampled_from([0, 1, 3, 17, 31])),
        "y": draw(st.sampled_from([0, 2, 9, 31])),
    }


@CROSS_CHECK
@given(nsm=st.integers(1, 4), data=st.data())
def test_random_straight_line_runs_fast_equals_single_step(nsm, data):
    # programs made mostly of instructions the RUN plan dry-runs (register moves, every JMP
    # condition, SET/OUT/IN between registers, delays, side-set rewrites, MOV/OUT to PC),
    # with pin-writing, FIFO and IRQ instructions among them, pin drives, FIFO traffic and
    # a DMA feed: the whole board must equal the single-stepped one at every checkpoint
    cfgs = [data.draw(straight_config(i)) for i in range(nsm)]
    drives = data.draw(pin_drives(900, 10))
    pushes = data.draw(fifo_pushes(900, nsm, 6))
    cpu_ops = data.draw(cpu_traffic(900, nsm, 4))
    dma_words = data.draw(st.lists(st.integers(0, 0xFFFFFFFF), max_size=4))
    bypass = data.draw(st.sampled_from([0, 0, 0b1010]))
    build = build_random(cfgs, drives, pushes, bypass, dma_words, cpu_ops)
    checkpoints = data.draw(st.lists(st.integers(1, 500), min_size=2, max_size=4))
    run_both(build, checkpoints)


# ---- loops re-entered with small counters (the memoised loop shapes) ---------------------------


@st.composite
def loop_config(draw, index):
    """set x, a ; set y, b ; L: k JMPs/NOPs (x--, y--, !x, !y, pin, always; to L, onward or
    out), the last back to L ; set x|y, c ; jmp L. Counters below 10 and up to four tests per
    iteration: re-entries hit the memoised shapes with the counter values that decide a path
    (X or Y minus the decrements before a test reaching zero), and with pin levels that change."""
    ss_count = draw(st.integers(0, 1))
    delay_bits = 5 - ss_count
    k = draw(st.integers(2, 4))
    start, out = 2, 2 + k
    body = []
    if draw(st.booleans()):  # count down k - 1 times, then a zero test back to the start:
        reg = draw(st.integers(0, 1))  # the loop closes only when the counter hits zero there
        body = [(4 if reg else 2) << 5 | (2 + j + 1) for j in range(k - 1)]
        body.append((3 if reg else 1) << 5 | start)
        small = st.sampled_from([k - 2, k - 1, k - 1, k, 0, 9])
    else:
        for j in range(k):
            last = j == k - 1
            if not last and draw(st.integers(0, 4)) == 0:
                body.append(0xA042)  # nop
                continue
            conds = [2, 4, 2, 4, 1, 3, 6, 0] if not last else [2, 4, 6, 1, 3, 0]
            target = start if last else draw(st.sampled_from([start, 2 + j + 1, out]))
            body.append((draw(st.sampled_from(conds)) << 5) | target)
        small = st.integers(0, 9)
    again = 0xE000 | (draw(st.integers(1, 2)) << 5) | draw(small)
    pairs = [0xE020 | draw(small), 0xE040 | draw(small)]
    pairs += body + [again, start]
    side = draw(st.integers(0, 1)) if ss_count else 0
    words = []
    for w in pairs:
        field = draw(st.sampled_from([0, 0, 0, 1, 3]))
        if ss_count:
            if draw(st.integers(0, 5)) == 0:
                side = draw(st.integers(0, 1))
            field |= side << delay_bits
        words.append((w & 0xE0FF) | (field << 8))
    return {
        "words": words,
        "offset": index * 8,
        "n": len(words),
        "ss_count": ss_count,
        "side_en": False,
        "side_pindir": False,
        "wrap_target": 0,
        "clkdiv": (draw(st.sampled_from([1, 1, 1, 2])) << 16)
        | (draw(st.sampled_from([0, 0, 64])) << 8),
        "shift": shiftctrl(),
        "pins": draw(st.tuples(*[st.integers(0, PIN_COUNT - 1)] * 5)),
        "x": 0,
        "y": 0,
    }


@CROSS_CHECK
@given(nsm=st.integers(1, 4), data=st.data())
def test_random_loops_with_small_counters_fast_equals_single_step(nsm, data):
    cfgs = [data.draw(loop_config(i)) for i in range(nsm)]
    drives = data.draw(pin_drives(900, 12))
    build = build_random(cfgs, drives, [], 0, [])
    checkpoints = data.draw(st.lists(st.integers(1, 700), min_size=2, max_size=4))
    run_both(build, checkpoints)
