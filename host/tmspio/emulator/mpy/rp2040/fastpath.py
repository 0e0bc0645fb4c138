"""The PIO fast path: closed-form skipping of state-machine ticks (mixin of StateMachine).

`step(now)` executes one SM tick exactly as the hardware does (pio-and-rp2.md §1-2, §2.13).
The fast path never changes that function: after a tick, `make_plan()` proves what the next ticks
will do while the SM's environment (visible pins, IRQ flags, its FIFOs, its registers) stays
constant, and `sync(c)` applies those ticks in closed form:

* STALL: the tick was a stall that repeats unchanged (WAIT, blocking PULL/PUSH, IRQ WAIT,
  autopull/autopush stalls): nothing changes until the environment does.
* RUN: a dry run of the instructions that follow, as long as each is "pure" (its only effects
  are on the SM's own registers X, Y, ISR, OSR, the shift counters and PC: JMP of any condition,
  MOV/SET/OUT/IN between registers, no FIFO, IRQ, pin or EXEC effect; side-set only if it
  rewrites what the output register already holds), with their delays; a "pure" loop (JMP of
  any condition and NOPs) that returns to its start after L ticks, decrementing X by A and Y by
  B, is taken in one piece for the `m` iterations it provably repeats identically (counter tests
  stay non-zero; pins are constant). The plan is a list of checkpoints (the state after k
  ticks); the SM next steps for real at the first instruction that is not pure (its wake), or
  never if the run ends in a loop that repeats for ever.

The board interrupts a plan (sync to the event cycle, then single-step, or a new plan from the
state at that cycle when the event is a pin change) whenever the environment changes, so results
are identical to `Board(single_step=True)`.
"""

from .errors import EmulatorError

M32 = 0xFFFFFFFF
INF = 1 << 62
DEP_PINS = 1
DEP_IRQ = 2
DEP_FIFO = 4
_MAX_LOOP = 8  # longest pure loop (instructions) the planner recognises
_MAX_RUN = 24  # most pieces (pure instructions and loops) in one plan


def rotl(v, s):
    s &= 31
    return ((v << s) | (v >> (32 - s))) & M32


def rotr(v, s):
    s &= 31
    return ((v >> s) | (v << (32 - s))) & M32


def mask(n):
    return (1 << n) - 1


def rev32(v):
    r = 0
    for _ in range(32):
        r = (r << 1) | (v & 1)
        v >>= 1
    return r


class FastPath:
    """Divider arithmetic, plans, sync and interrupt for StateMachine (see module docstring)."""

    # -- divider -------------------------------------------------------------------------------

    def ticks_before(self, c):
        """Number of SM ticks in [div_base, c)."""
        d = c - self.div_base
        if d <= 0:
            return 0
        if self.div256 == 256:
            return d
        return (d * 256 + self.div256 - 1) // self.div256

    def tick_cycle(self, k):
        if self.div256 == 256:
            return self.div_base + k
        return self.div_base + ((k * self.div256) >> 8)

    def next_tick(self, c):
        return self.tick_cycle(self.ticks_before(c))

    # -- scheduling ----------------------------------------------------------------------------

    def sync(self, c):
        """Bring the state to the start of cycle c (all ticks < c applied)."""
        if c <= self.t:
            return
        p = self.plan
        if p is not None and self.enabled:
            if c > self.wake:
                raise EmulatorError("internal: PIO SM synced past its wake cycle")
            if p[1] == "R":
                if self.div256 == 256:  # ticks_before(c), inline for an undivided clock
                    k = c - self.div_base
                    self._apply_plan(p, (k if k > 0 else 0) - p[0])
                else:
                    self._apply_plan(p, self.ticks_before(c) - p[0])
        elif self.enabled and self.next_tick(self.t) < c:
            raise EmulatorError("internal: PIO SM skipped a tick without a plan")
        self.t = c

    def interrupt(self, c, replan=False):
        """The environment changes at cycle c: apply the plan up to c, single-step from there
        (replan=True: plan again from the state at c, for an environment that is settled)."""
        self.sync(c)
        self.plan = None
        self.quiet = False
        if not self.enabled:
            self.wake = INF
            return
        if self.div256 == 256:  # next_tick(c), inline for an undivided clock
            self.wake = c if c > self.div_base else self.div_base
        else:
            self.wake = self.next_tick(c)
        if replan and not self.stalled and self.latch < 0 and not self.irq_waiting:
            self.side_mask = 0
            self._plan_run(self.ticks_before(c if c > self.t else self.t))

    def _apply_plan(self, p, n):
        """State after n ticks of RUN plan p (0 <= n <= its length)."""
        ks = p[2]
        i = len(ks) - 1
        while ks[i] > n:
            i -= 1
        cp = p[3][i]
        j = n - ks[i]
        self.stalled = False
        self.isr = cp[3]
        self.osr = cp[4]
        self.icount = cp[5]
        self.ocount = cp[6]
        loop = cp[8]
        if loop is None:
            self.pc = cp[0]
            self.x = cp[1]
            self.y = cp[2]
            self.delay = cp[7] - j
            return
        length, da, db, seq = loop
        full = j // length
        rem = j - full * length
        x = cp[1] - full * da
        y = cp[2] - full * db
        pc = cp[0]
        delay = 0
        for entry in seq:
            if rem == 0:
                break
            x -= entry[2]
            y -= entry[3]
            pc = entry[0]
            delay = entry[1]
            rem -= 1
            k = delay if delay < rem else rem
            delay -= k
            rem -= k
        self.x = x & M32
        self.y = y & M32
        self.pc = pc
        self.delay = delay

    def make_plan(self):
        """After a tick (self.t = next cycle): decide the closed form for the following ticks."""
        if not self.enabled:
            self.plan = None
            self.wake = INF
            self.quiet = True
            return
        self.side_mask = 0
        if self.persist:
            if self.autopull:
                self.deps |= DEP_FIFO  # a TX write would let the background autopull run
            self.plan = (0, "S")
            self.wake = INF
            self.quiet = True
            return
        self.quiet = False
        self.plan = None
        if self.div256 == 256:  # ticks_before/tick_cycle, inline for an undivided clock
            k0 = self.t - self.div_base
            if k0 < 0:
                k0 = 0
            self.wake = self.div_base + k0
        else:
            k0 = self.ticks_before(self.t)
            self.wake = self.tick_cycle(k0)
        if self.latch >= 0 or self.stalled or self.irq_waiting:
            return
        self._plan_run(k0)

    def _plan_run(self, k0):
        """Dry-run from the present state (tick index k0 next); set a RUN plan if it skips any
        tick. Leaves plan None and wake at tick k0 otherwise."""
        if self.autopull and self.ocount >= self.pull_thresh and self.tx:
            return  # the background autopull acts on the next tick
        pc = self.pc
        loops = self.loop_starts
        if loops < 0:
            loops = self._analyse()
        pure = self.pure_at
        if not self.delay and not ((loops | pure) >> pc) & 1:
            return  # the next tick is not pure: nothing to skip
        mem = self.block.mem
        x = self.x
        y = self.y
        isr = self.isr
        osr = self.osr
        ic = self.icount
        oc = self.ocount
        k = self.delay  # relative tick index of the next instruction
        ks = [0]
        cps = [(pc, x, y, isr, osr, ic, oc, k, None)]
        deps = DEP_FIFO if self.autopull else 0
        side = 0
        infinite = False
        ss_bits = self.ss_bits
        if ss_bits:
            ss_m = rotl(self.ss_mask, self.ss_base)
            ss_reg = self.block.pad_oe if self.side_pindir else self.block.pad_out
            # the side-set value that rewrites what is there (rotations are one-to-one)
            ss_want = rotr(ss_reg & ss_m, self.ss_base)
        dmask = self.delay_mask
        for _ in range(_MAX_RUN):
            loop = None
            if (loops >> pc) & 1:
                loop = self._find_loop(pc, x, y, oc, k0 + k)
            if loop is not None:
                seq, length, da, db, m, uses_pin, lside = loop
                ks.append(k)
                cps.append((pc, x, y, isr, osr, ic, oc, 0, (length, da, db, seq)))
                side |= lside
                if uses_pin:
                    deps |= DEP_PINS
                if m >= INF:
                    infinite = True
                    break
                k += m * length
                x = (x - m * da) & M32
                y = (y - m * db) & M32
                continue
            if not (pure >> pc) & 1:
                break
            ins = mem[pc]
            if ss_bits and (not self.side_en or ins & 0x1000):
                if (ins >> self.ss_shift) & self.ss_mask != ss_want:
                    break  # a side-set that changes a pin: observable
                side = ss_m
            op = ins >> 13
            jumped = False
            if op == 0:  # JMP
                cond = (ins >> 5) & 7
                if cond == 0:
                    taken = True
                elif cond == 1:
                    taken = x == 0
                elif cond == 2:
                    taken = x != 0
                    x = (x - 1) & M32
                elif cond == 3:
                    taken = y == 0
                elif cond == 4:
                    taken = y != 0
                    y = (y - 1) & M32
                elif cond == 5:
                    taken = x != y
                elif cond == 6:
                    taken = (self.block.inputs(self.tick_cycle(k0 + k)) >> self.jmp_pin) & 1
                    deps |= DEP_PINS
                else:
                    taken = oc < self.pull_thresh
                if taken:
                    pc = ins & 31
                    jumped = True
            elif op == 5:  # MOV
                dest = (ins >> 5) & 7
                mop = (ins >> 3) & 3
                src = ins & 7
                if dest == 0 or dest == 3 or dest == 4 or mop == 3 or src == 4:
                    break  # pins, reserved, EXEC: not pure (execute() raises or acts)
                if src == 0:
                    data = rotr(self.block.inputs(self.tick_cycle(k0 + k)), self.in_base)
                    deps |= DEP_PINS
                elif src == 1:
                    data = x
                elif src == 2:
                    data = y
                elif src == 3:
                    data = 0
                elif src == 5:
                    level = len(self.rx) if self.status_sel else len(self.tx)
                    data = M32 if level < self.status_n else 0
                    deps |= DEP_FIFO
                elif src == 6:
                    data = isr
                else:
                    data = osr
                if mop == 1:
                    data = data ^ M32
                elif mop == 2:
                    data = rev32(data)
                if dest == 1:
                    x = data
                elif dest == 2:
                    y = data
                elif dest == 5:
                    pc = data & 31
                    jumped = True
                elif dest == 6:
                    isr = data
                    ic = 0
                else:
                    osr = data
                    oc = 0
            elif op == 7:  # SET
                dest = (ins >> 5) & 7
                if dest == 1:
                    x = ins & 31
                elif dest == 2:
                    y = ins & 31
                else:
                    break
            elif op == 3:  # OUT, without autopull
                dest = (ins >> 5) & 7
                if self.autopull or dest == 0 or dest == 4 or dest == 7:
                    break
                n = (ins & 31) or 32
                if self.out_right:
                    data = osr & mask(n)
                    osr = (osr >> n) if n < 32 else 0
                else:
                    data = (osr >> (32 - n)) & mask(n)
                    osr = (osr << n) & M32
                cnt = oc + n
                oc = cnt if cnt < 32 else 32
                if dest == 1:
                    x = data
                elif dest == 2:
                    y = data
                elif dest == 5:
                    pc = data & 31
                    jumped = True
                elif dest == 6:
                    isr = data
                    ic = n
            elif op == 2:  # IN, without autopush
                src = (ins >> 5) & 7
                if self.autopush or src == 4 or src == 5:
                    break
                n = (ins & 31) or 32
                if src == 0:
                    data = rotr(self.block.inputs(self.tick_cycle(k0 + k)), self.in_base)
                    deps |= DEP_PINS
                elif src == 1:
                    data = x
                elif src == 2:
                    data = y
                elif src == 3:
                    data = 0
                elif src == 6:
                    data = isr
                else:
                    data = osr
                data &= mask(n)
                if self.in_right:
                    isr = ((isr >> n) | (data << (32 - n))) & M32
                else:
                    isr = ((isr << n) | data) & M32
                cnt = ic + n
                ic = cnt if cnt < 32 else 32
            else:  # WAIT, PUSH/PULL, IRQ
                break
            if not jumped:
                pc = self.wrap_bottom if pc == self.wrap_top else (pc + 1) & 31
            dl = (ins >> 8) & dmask
            k += 1
            ks.append(k)
            cps.append((pc, x, y, isr, osr, ic, oc, dl, None))
            k += dl
        if k == 0 and not infinite:
            return
        self.plan = (k0, "R", ks, cps)
        self.side_mask = side
        self.deps = deps
        if infinite:
            self.wake = INF
            self.quiet = True
        else:
            self.wake = self.div_base + k0 + k if self.div256 == 256 else self.tick_cycle(k0 + k)

    def _analyse(self):
        """Static facts about instruction memory, kept until it or the wrap changes (then
        loop_starts is -1): pure_at, the addresses whose instruction may be pure (JMP; MOV,
        SET, OUT, IN between registers; _plan_run decides the rest), and loop_starts, where a
        loop of JMPs and NOPs (_find_loop) could start: some choice of branch outcomes leads
        back there within _MAX_LOOP instructions. Returns loop_starts."""
        mem = self.block.mem
        pure = 0
        for pc in range(32):
            ins = mem[pc]
            op = ins >> 13
            dest = (ins >> 5) & 7
            if op == 0:
                ok = True
            elif op == 5:
                ok = dest not in (0, 3, 4) and (ins >> 3) & 3 != 3 and ins & 7 != 4
            elif op == 7:
                ok = dest == 1 or dest == 2
            elif op == 3:
                ok = dest not in (0, 4, 7)
            elif op == 2:
                ok = dest not in (4, 5)
            else:
                ok = False
            if ok:
                pure |= 1 << pc
        self.pure_at = pure
        self.loop_memo = {}  # _find_loop's shapes hold only for this program and settings
        found = 0
        for pc0 in range(32):
            level = [pc0]
            for _ in range(_MAX_LOOP):
                nxt = []
                for pc in level:
                    ins = mem[pc]
                    if ins >> 13 == 0:
                        if (ins >> 5) & 7:
                            nxt.append(self._advance(pc))
                        nxt.append(ins & 31)
                    elif ins & 0xE0FF in (0xA021, 0xA042):
                        nxt.append(self._advance(pc))
                if pc0 in nxt:
                    found |= 1 << pc0
                    break
                level = nxt
                if not level:
                    break
        self.loop_starts = found
        return found

    def _find_loop(self, pc0, x0, y0, oc, u):
        """Dry-run pure instructions from pc0 (registers x0, y0, output count oc, first tick
        index u): a loop back to pc0 within _MAX_LOOP instructions whose conditions provably
        repeat gives (seq, L, A, B, iterations, uses_pin, side-set mask).

        Memoised in loop_memo (cleared with loop_starts, i.e. with the program, the wrap or
        any SM setting the dry run reads): one iteration's path depends on X and Y only
        through which counter tests see zero, and a test sees X - a or Y - b with a, b below
        _MAX_LOOP, so X and Y clamped to _MAX_LOOP decide it; besides, on the output count's
        test, the side-set pins' register and, from the first `jmp pin` on, that pin's level.
        Only the iteration count is worked out anew from X and Y. A loop that compares X with
        Y (`jmp x!=y`) is dry-run every time."""
        key = (
            pc0
            | (x0 if x0 < _MAX_LOOP else _MAX_LOOP) << 5
            | (y0 if y0 < _MAX_LOOP else _MAX_LOOP) << 9
            | (oc < self.pull_thresh) << 13
        )
        if self.ss_bits:
            key |= (self.block.pad_oe if self.side_pindir else self.block.pad_out) << 14
        memo = self.loop_memo
        entry = memo.get(key)
        if entry is not None and entry[0] == 0:  # no pin read: one shape
            shape = entry[1]
            uses_pin = False
        elif entry is not None and entry[0] == 1:  # a jmp pin: one shape per level
            pins = self.block.inputs(
                self.div_base + u if self.div256 == 256 else self.tick_cycle(u)
            )
            shape = entry[1 + ((pins >> self.jmp_pin) & 1)]
            if shape is None:
                flags, shape, level = self._loop_shape(pc0, x0, y0, oc, u)
                entry[1 + level] = shape
            uses_pin = True
        else:  # not seen yet, or [2]: a jmp x!=y, dry-run every time
            flags, shape, level = self._loop_shape(pc0, x0, y0, oc, u)
            uses_pin = flags & 1 == 1
            if entry is None:
                if flags & 2:
                    memo[key] = [2]
                elif uses_pin:
                    entry = memo[key] = [1, None, None]
                    entry[1 + level] = shape
                else:
                    memo[key] = [0, shape]
        if not shape:
            return None
        seq, length, da, db, side, tests = shape
        m = INF
        for reg, off in tests:  # X - off (Y - off) at that test must stay >= 1
            if reg == 0:
                v = (x0 - off) & M32
                step = da
            else:
                v = (y0 - off) & M32
                step = db
            if v == 0:  # a zero test outcome changes with the next iteration
                return None
            # value at this test in iteration j is v - j*step
            k = (v - 1) // step + 1
            if k < m:
                m = k
        return seq, length, da, db, m, uses_pin, side

    def _loop_shape(self, pc0, x0, y0, oc, u):
        """The dry run behind _find_loop: (flags, shape, pin level read or -1). flags: 1 a
        `jmp pin` was met, 2 a `jmp x!=y` was. shape: False (no provable loop) or (seq, L, A,
        B, side-set mask, tests), tests the (register, its decrements before the test) of
        every counter test whose counter moves in the loop."""
        mem = self.block.mem
        pc = pc0
        da = 0
        db = 0
        length = 0
        seq = []
        tests = []  # (reg, decrements before the test)
        flags = 0
        level = -1
        side = 0
        ss_bits = self.ss_bits
        if ss_bits:
            side_en = self.side_en
            ss_mask = self.ss_mask
            ss_base = self.ss_base
            ss_shift = self.ss_shift
            m = rotl(ss_mask, ss_base)
            reg = self.block.pad_oe if self.side_pindir else self.block.pad_out
            want = rotr(reg & m, ss_base)  # the side-set value that rewrites what is there
        dmask = self.delay_mask
        wrap_top = self.wrap_top
        for _ in range(_MAX_LOOP):
            ins = mem[pc]
            op = ins >> 13
            if op != 0 and ins & 0xE0FF not in (0xA021, 0xA042):
                return flags, False, level  # only JMP and mov x, x / mov y, y (nop)
            if ss_bits and (not side_en or ins & 0x1000):
                # side-set in a loop is allowed only if it rewrites what is already there
                if (ins >> ss_shift) & ss_mask != want:
                    return flags, False, level
                side = m
            dl = (ins >> 8) & dmask
            dx = 0
            dy = 0
            if op == 0:
                cond = (ins >> 5) & 7
                if cond == 0:
                    taken = True
                elif cond == 1 or cond == 2:
                    taken = ((x0 - da) & M32 == 0) == (cond == 1)
                    tests.append((0, da))
                    if cond == 2:
                        dx = 1
                        da += 1
                elif cond == 3 or cond == 4:
                    taken = ((y0 - db) & M32 == 0) == (cond == 3)
                    tests.append((1, db))
                    if cond == 4:
                        dy = 1
                        db += 1
                elif cond == 5:
                    taken = ((x0 - da) & M32) != ((y0 - db) & M32)
                    flags |= 2
                elif cond == 6:
                    if level < 0:
                        pins = self.block.inputs(
                            self.div_base + u if self.div256 == 256 else self.tick_cycle(u)
                        )
                        level = (pins >> self.jmp_pin) & 1
                    taken = level
                    flags |= 1
                else:
                    taken = oc < self.pull_thresh
                if taken:
                    nxt = ins & 31
                else:  # self._advance(pc), inline
                    nxt = self.wrap_bottom if pc == wrap_top else (pc + 1) & 31
            else:
                nxt = self.wrap_bottom if pc == wrap_top else (pc + 1) & 31
            seq.append((nxt, dl, dx, dy))
            length += 1 + dl
            pc = nxt
            if pc == pc0:
                break
        else:
            return flags, False, level
        if flags & 2 and da != db:  # X - Y changes with the iterations: x!=y may flip
            return flags, False, level
        moving = []
        for reg, off in tests:
            if (da if reg == 0 else db) != 0:
                moving.append((reg, off))
        return flags, (seq, length, da, db, side, moving), level
