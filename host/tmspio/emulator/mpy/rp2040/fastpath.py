"""The PIO fast path: closed-form skipping of state-machine ticks (mixin of StateMachine).

`step(now)` executes one SM tick exactly as the hardware does (pio-and-rp2.md §1-2, §2.13).
The fast path never changes that function: after a tick, `make_plan()` proves what the next ticks
will do while the SM's environment (visible pins, IRQ flags, its FIFOs, its registers) stays
constant, and `sync(c)` applies those ticks in closed form:

* STALL: the tick was a stall that repeats unchanged (WAIT, blocking PULL/PUSH, IRQ WAIT,
  autopull/autopush stalls): nothing changes until the environment does.
* LOOP: `d0` remaining delay ticks, then a "pure" loop (JMP of any condition and NOPs; side-set
  only if it rewrites what the output register holds) that returns to its start after L ticks,
  decrementing X by A and Y by B; it repeats identically for `m` iterations (counter tests stay
  non-zero; pins are constant). A plan with an empty loop is a plain delay.

The board interrupts a plan (sync to the event cycle, then single-step) whenever the
environment changes, so results are identical to `Board(single_step=True)`.
"""

from .errors import EmulatorError

M32 = 0xFFFFFFFF
INF = 1 << 62
DEP_PINS = 1
DEP_IRQ = 2
DEP_FIFO = 4
_MAX_LOOP = 8  # longest pure loop (instructions) the planner recognises


def rotl(v, s):
    s &= 31
    return ((v << s) | (v >> (32 - s))) & M32


def mask(n):
    return (1 << n) - 1


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
            self._apply_plan(p, self.ticks_before(c) - p[0])
        elif self.enabled and self.next_tick(self.t) < c:
            raise EmulatorError("internal: PIO SM skipped a tick without a plan")
        self.t = c

    def interrupt(self, c):
        """The environment changes at cycle c: apply the plan up to c, single-step from there."""
        self.sync(c)
        self.plan = None
        self.quiet = False
        self.wake = self.next_tick(c) if self.enabled else INF

    def _apply_plan(self, p, n):
        if p[1] == "S":
            return
        _, _, d0, pc0, x0, y0, length, da, db, seq, _ = p
        self.stalled = False
        if n <= d0:
            self.delay = d0 - n
            self.pc = pc0
            self.x = x0
            self.y = y0
            return
        n -= d0
        full = n // length
        rem = n - full * length
        x = x0 - full * da
        y = y0 - full * db
        pc = pc0
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
        self.side_mask = 0
        k0 = self.ticks_before(self.t)
        self.wake = self.tick_cycle(k0)
        if self.latch >= 0 or self.stalled or self.irq_waiting:
            return
        if self.autopull and self.ocount >= self.pull_thresh and self.tx:
            return
        d0 = self.delay
        loop = self._find_loop(self.tick_cycle(k0 + d0))
        deps = DEP_FIFO if self.autopull else 0
        if loop is None:
            if d0 == 0:
                return
            self.plan = (k0, "L", d0, self.pc, self.x, self.y, 1, 0, 0, (), d0)
            self.deps = deps
            self.wake = self.tick_cycle(k0 + d0)
            return
        seq, length, da, db, m, uses_pin, side = loop
        total = INF if m >= INF else d0 + m * length
        self.plan = (k0, "L", d0, self.pc, self.x, self.y, length, da, db, seq, total)
        self.side_mask = side
        self.deps = deps | (DEP_PINS if uses_pin else 0)
        if total >= INF:
            self.wake = INF
            self.quiet = True
        else:
            self.wake = self.tick_cycle(k0 + total)

    def _find_loop(self, u):
        """Dry-run pure instructions from PC; a loop back to PC within _MAX_LOOP instructions
        whose conditions provably repeat gives (seq, L, A, B, iterations, uses_pin)."""
        mem = self.block.mem
        pc0 = self.pc
        pc = pc0
        x0 = self.x
        y0 = self.y
        da = 0
        db = 0
        length = 0
        seq = []
        tests = []  # (reg, value at test, must stay non-zero)
        uses_pin = False
        pins = -1
        side = 0
        for _ in range(_MAX_LOOP):
            ins = mem[pc]
            if self.ss_bits and (not self.side_en or ins & 0x1000):
                # side-set in a loop is allowed only if it rewrites what is already there
                m = rotl(self.ss_mask, self.ss_base)
                v = rotl((ins >> self.ss_shift) & self.ss_mask, self.ss_base)
                reg = self.block.pad_oe if self.side_pindir else self.block.pad_out
                if reg & m != v:
                    return None
                side = m
            op = ins >> 13
            dl = (ins >> 8) & self.delay_mask
            dx = 0
            dy = 0
            if op == 0:
                cond = (ins >> 5) & 7
                if cond == 0:
                    taken = True
                elif cond == 1 or cond == 2:
                    v = (x0 - da) & M32
                    taken = v == 0 if cond == 1 else v != 0
                    tests.append((0, v, cond))
                    if cond == 2:
                        dx = 1
                        da += 1
                elif cond == 3 or cond == 4:
                    v = (y0 - db) & M32
                    taken = v == 0 if cond == 3 else v != 0
                    tests.append((1, v, cond))
                    if cond == 4:
                        dy = 1
                        db += 1
                elif cond == 5:
                    taken = ((x0 - da) & M32) != ((y0 - db) & M32)
                    tests.append((2, da - db, cond))
                elif cond == 6:
                    if pins < 0:
                        pins = self.block.inputs(u)
                    taken = (pins >> self.jmp_pin) & 1
                    uses_pin = True
                else:
                    taken = self.ocount < self.pull_thresh
                nxt = (ins & 31) if taken else self._advance(pc)
            elif ins & 0xE0FF in (0xA021, 0xA042):  # mov x, x / mov y, y (nop)
                nxt = self._advance(pc)
            else:
                return None
            seq.append((nxt, dl, dx, dy))
            length += 1 + dl
            pc = nxt
            if pc == pc0:
                break
        else:
            return None
        m = INF
        for reg, v, cond in tests:
            if reg == 2:
                if da != db:
                    return None
                continue
            step = da if reg == 0 else db
            if step == 0:
                continue
            if v == 0:  # a zero test outcome changes with the next iteration
                return None
            # value at this test in iteration j is v - j*step; it must stay >= 1
            k = (v - 1) // step + 1
            if k < m:
                m = k
        if m == 0:
            return None
        return seq, length, da, db, m, uses_pin, side
