# The trigger engine (docs/architecture.md §5): load -> arm -> start, poll while running, stop.
# State machines: PIO0 SM n = pulse generator of output channel n (pioprogs.pulse_gen);
# PIO1 SM 0..3 = edge capture (pioprogs.edge_capture) of the used trigger outputs in channel
# order, then trigger_in (trigger or gated start) and confirm_in while a state machine is left
# (4 channels: neither is captured; 3 channels with a trigger start: confirm_in is not).
import limits
import machine
import pioprogs
import progformat
import progview
import rp2
import timing as T
import words
from feeder import GenFeed
from fwerror import FirmwareError
from machine import Pin, mem32
from micropython import const
from recorder import Recorder
from safeout import SafeOutputs, chip_regs

_GEN_HALF = const(256)  # words per generator DMA buffer (two per channel)
_WDT_MS = const(2000)  # poll() must run at least this often once started (it feeds the WDT)
_FDEBUG = const(0x008)
_SM_ADDR = const(0x0D4)  # SM0_ADDR; + 0x18 per SM
_IRQ = const(0x030)
_PINCTRL = const(0x0DC)  # SM0_PINCTRL; + 0x18 per SM

FirmwareError = FirmwareError  # re-exported for the command loop


class Engine:
    def __init__(self, board_cfg):
        self.board = board_cfg
        self._pins = board_cfg["pins"]
        self._out = SafeOutputs(board_cfg["chip"])
        regs = chip_regs(board_cfg["chip"])
        self._pio_base = (regs[3], regs[4])
        pol = board_cfg["polarity"]
        pulls = board_cfg["pulls"]
        self._estop_level = 1 if pol["estop"] == "rising" else 0
        self._estop = Pin(self._pins["estop"], Pin.IN, _pull(pulls["estop"]))
        self._trig_in = Pin(self._pins["trigger_in"], Pin.IN, _pull(pulls["trigger_in"]))
        self._confirm = Pin(self._pins["confirm_in"], Pin.IN, _pull(pulls["confirm_in"]))
        self._trig_falling = pol["trigger_in"] == "falling"
        self._confirm_idle = 1 if pol["confirm_in"] == "falling" else 0
        self._led = None  # lit while armed or running (a plain GPIO LED only)
        led = self._pins.get("status_led")
        if led is not None and board_cfg.get("status_led_kind", "gpio") == "gpio":
            self._led_on = 0 if board_cfg.get("status_led_active", "high") == "low" else 1
            self._led = Pin(led, Pin.OUT, value=1 - self._led_on)
        self._wdt = None
        self._prog = None
        self._gens = []
        self._rec = Recorder()
        self._planned = 0
        self._state = "idle"
        self._reason = None
        self._faults = []
        self._edges = []
        self._estop_hit = False  # an e-stop edge since arm() began (set by the hard IRQ)
        self._estop.irq(
            self._on_estop, Pin.IRQ_RISING if self._estop_level else Pin.IRQ_FALLING, hard=True
        )

    # ---- commands -------------------------------------------------------------------------
    def load(self, data, progress=None, owned=False):
        """progress(done, total): called while the limits are checked (a long program takes
        seconds), so the command loop can tell the host it is still working.
        owned: the caller hands `data` over and never touches it again (the command loop's
        load buffer), so a bytearray is kept as is instead of copied: one program-sized block
        less at the peak of a replacing load."""
        if self._state in ("armed", "running"):
            raise FirmwareError(
                "state", "load while %s: allowed after stop or the end of the run" % self._state
            )
        try:
            # verified bytes must not change under the engine: keep an immutable copy unless
            # the caller gave the buffer away
            prog = progview.decode(data if owned or isinstance(data, bytes) else bytes(data))
        except progformat.FormatError as e:
            raise FirmwareError("format", str(e)) from None
        hz = self.board["sysclk_hz"]
        if prog.sysclk_hz != hz or machine.freq() != hz:
            raise FirmwareError(
                "board",
                "sysclk_hz = %d: the board runs at %d Hz (board file "
                "%d Hz)" % (prog.sysclk_hz, machine.freq(), hz),
            )
        n_out = len(self._pins["trigger"])
        for ci in range(len(prog.channels)):
            idx = prog.channels[ci].index
            if idx >= n_out:
                raise FirmwareError(
                    "board",
                    "channels[%d].index = %d: this board has outputs 0..%d" % (ci, idx, n_out - 1),
                )
            words.check_channel(prog, ci)
        marker_ci = words.marker_channel(prog)
        tick = self._feed
        if progress is not None:
            checked = [0]
            total = prog.pulses()

            def _tick():
                self._feed()
                checked[0] += 1024  # limits.check ticks every 1024 onsets
                progress(min(checked[0], total), total)

            tick = _tick
        limits.check(prog, self.board["limits"], tick)
        # all checks passed: only now replace the loaded program (a refusal keeps the old one)
        self._release()
        self._marker_ci = marker_ci
        self._prog = prog
        self._planned = prog.pulses()
        self._state = "loaded"
        self._reason = None
        self._faults = []
        self._rec = Recorder()
        # from now on each used output is driven at its idle level
        for ch in prog.channels:
            self._out.force(self._pins["trigger"][ch.index], ch.idle_level)
        self._out.force(self._pins["marker"], 0)

    def arm(self):
        if self._state not in ("loaded", "done", "stopped"):
            raise FirmwareError("state", "arm while %s: allowed after load" % self._state)
        self._estop_hit = False
        self._refuse_if_estop("arm")
        self._release()
        try:
            self._arm()
        except Exception as e:
            self._release()
            for ch in self._prog.channels:
                self._out.force(self._pins["trigger"][ch.index], ch.idle_level)
            self._out.force(self._pins["marker"], 0)
            if isinstance(e, FirmwareError):
                raise
            n = len(self._prog.channels)
            caps = min(4, n + 1 + (self._prog.start_mode != progformat.START_IMMEDIATE))
            text = (
                "arm failed (%r): %d channels need %d state machines (PIO0 SM 0-3 by "
                "output, PIO1 SM 0-%d) and %d DMA channels not claimed by other drivers"
                % (e, n, n + caps, caps - 1, 2 * n + caps)
            )
            raise FirmwareError("resource", text) from None
        self._state = "armed"
        self._show(True)
        self._reason = None  # a new run: the previous run's results are gone
        self._faults = []

    def _arm(self):
        prog = self._prog
        trig = self._pins["trigger"]
        marker = self._pins["marker"]
        prog_list = pioprogs.pulse_gen
        gen_mask = 0
        pins = []
        idles = []
        dma_mask = 0
        self._gens = []
        for ci in range(len(prog.channels)):
            ch = prog.channels[ci]
            n = ch.index
            # the side-set pin starts at the idle level, so selecting PIO makes no edge
            prog_list[-1] = PIO_OUT_HIGH if ch.idle_level else PIO_OUT_LOW
            sm = rp2.StateMachine(
                n,
                prog_list,
                freq=-1,
                sideset_base=Pin(trig[n]),
                out_base=Pin(marker),
                in_base=Pin(self._pins["trigger_in"]),
            )
            prog_list[-1] = PIO_OUT_LOW
            if ci != self._marker_ci:
                # OUT_COUNT = 0: only the marker's owner may write the marker pin
                pinctrl = self._pio_base[0] + _PINCTRL + 0x18 * n
                mem32[pinctrl] = mem32[pinctrl] & ~(0x3F << 20)
            self._out.force(trig[n], ch.idle_level)
            sm.exec(0xA042)  # nop side 0: PIO level 0, the pad stays forced idle
            base = _offset(prog_list, 0)
            sm.exec(base + T.GEN_CMD)  # jmp cmd (side 0)
            it = words.channel_words(prog, ci, base, self._trig_falling)
            feed = GenFeed(sm, 0, n, it, _GEN_HALF)
            a, b = feed.channels()
            dma_mask |= (1 << a) | (1 << b)
            self._gens.append((n, sm, feed, ch.idle_level, base))
            gen_mask |= 1 << n
            pins.append(trig[n])
            idles.append(ch.idle_level)
        pins.append(marker)
        idles.append(0)
        self._gen_mask = gen_mask
        self._out.plan_abort(pins, idles, gen_mask, dma_mask)
        trig_in = None
        if prog.start_mode != progformat.START_IMMEDIATE:
            trig_in = (self._pins["trigger_in"], 1 if self._trig_falling else 0)
        self._rec.arm(prog, trig, self._pins["confirm_in"], self._confirm_idle, trig_in)
        mem32[self._pio_base[0] + _IRQ] = 0xFF  # soft reset does not clear PIO flags
        mem32[self._pio_base[0] + _FDEBUG] = 0xFFFFFFFF
        mem32[self._pio_base[1] + _FDEBUG] = 0xFFFFFFFF

    def start(self):
        if self._state != "armed":
            raise FirmwareError("state", "start while %s: allowed after arm" % self._state)
        self._refuse_if_estop("start")
        if self._estop_hit:  # an edge while arm() ran (not yet "armed", so nothing aborted)
            self.stop("estop")
            raise FirmwareError(
                "state",
                "start refused: e-stop (GPIO%d) struck during arm; "
                "arm again" % self._pins["estop"],
            )
        if self._wdt is None:
            self._wdt = machine.WDT(timeout=_WDT_MS)
        self._wdt.feed()
        for n, sm, feed, idle, base in self._gens:
            feed.start()
        # An e-stop edge may strike anywhere below. "running" comes first so its abort counts;
        # a release after the abort would undo it, so the releases are checked and re-forced,
        # and PIO is not started. (An edge after the check: PIO starts behind forced pads.)
        self._state = "running"
        for n, sm, feed, idle, base in self._gens:
            self._out.release(self._pins["trigger"][n], idle)
        if self._marker_ci >= 0:
            self._out.release(self._pins["marker"], 0)
        if self._state != "running":
            self._out.abort()
            return
        self._out.start_pios(self._gen_mask, self._rec.mask)

    def stop(self, reason="host stop"):
        """Abort: outputs idle first, then generators and their DMA stop. Idempotent."""
        if self._state in ("armed", "running"):
            self._out.abort()
            self._state = "stopped"
            self._reason = reason
        self._finish()

    # ---- while running -------------------------------------------------------------------
    def poll(self):
        """Service DMA, drain the capture, detect faults and the end; feed the watchdog.
        Returns [(source, level, cycle)] captured since the last poll (cycles since the
        capture started)."""
        self._feed()
        if self._state == "running":
            try:
                self._service()
            except Exception as e:  # any error while running aborts to safe outputs
                self.stop("exception: %r" % (e,))
        if self._gens and self._state == "stopped":
            self._finish()  # after an e-stop (the hard IRQ only forced the outputs)
        out = self._edges
        self._edges = []
        return out

    def _service(self):
        busy = False
        for n, sm, feed, idle, base in self._gens:
            busy = feed.service() or busy
        self._drain()
        fd = mem32[self._pio_base[0] + _FDEBUG] >> 24
        if fd & self._gen_mask:
            self._fault("underrun: generator SM mask 0x%x stalled on an empty FIFO" % fd)
            return
        if mem32[self._pio_base[1] + _FDEBUG] & self._rec.mask:
            self._fault("capture overflow: an edge was not recorded in time")
            return
        if not busy and self._state == "running":  # (an e-stop may have struck meanwhile)
            for n, sm, feed, idle, base in self._gens:
                if mem32[self._pio_base[0] + _SM_ADDR + 0x18 * n] & 0x1F != base + T.GEN_END:
                    return
            self._state = "done"
            self._finish()

    def _fault(self, text):
        if self._state == "running":
            self._faults.append(text)
            self.stop(text.split(":")[0])

    def _drain(self, stopped=False):
        self._rec.drain(self._edges, stopped)

    def _finish(self):
        """After a stop or the end: drain the last edges, release SMs and DMA (outputs stay
        forced idle)."""
        for n, sm, feed, idle, base in self._gens:
            self._out.force(self._pins["trigger"][n], idle)
        self._out.force(self._pins["marker"], 0)
        self._out.stop_pio(0, 0xF)
        for n, sm, feed, idle, base in self._gens:
            # leave PIO's own output registers at 0 too (a stop can cut a pulse): the next
            # arm hands the pins back to PIO without ever showing a stale active level
            sm.exec(0xA042)  # nop side 0: trigger register 0
            sm.exec(0xA003)  # mov pins, null (side 0): marker register 0 (owner only)
        if self._rec.armed():
            # stop the capture before reading it: after an overflow stall its later words
            # would carry shifted timestamps; the edges the abort made are in by now (the
            # writes above take far longer than the 3-cycle input latency)
            self._out.stop_pio(1, 0xF)
            self._drain(True)
            self._drain(True)  # what the re-armed DMA moved out of the RX FIFO meanwhile
        self._release()

    def _release(self):
        for n, sm, feed, idle, base in self._gens:
            feed.close()
        self._rec.close()
        self._gens = []
        self._show(False)
        rp2.PIO(0).remove_program()
        rp2.PIO(1).remove_program()

    def _feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def _show(self, on):
        if self._led is not None:
            self._led.value(self._led_on if on else 1 - self._led_on)

    def _refuse_if_estop(self, what):
        if self._estop.value() == self._estop_level:
            raise FirmwareError(
                "state", "%s refused: e-stop (GPIO%d) reads stop" % (what, self._pins["estop"])
            )

    def _on_estop(self, pin):
        # hard IRQ: no allocation; stop() only writes registers until _finish (poll later)
        self._estop_hit = True
        if self._state in ("armed", "running"):
            self._out.abort()
            self._state = "stopped"
            self._reason = "estop"

    # ---- reporting -----------------------------------------------------------------------
    def status(self):
        return {
            "state": self._state,
            "pulses_planned": self._planned,
            "pulses_delivered": self._rec.delivered,
            "reason": self._reason,
            "faults": list(self._faults),
            "captured": self._rec.names,
            # PIO1 (capture) and PIO0 (generators) start by two CPU writes whose distance is
            # not known to the cycle on hardware, so time zero comes from the first captured
            # onset: its deviation is 0 by definition, every later one is measured exactly
            "start_cycle": self._rec.start_cycle,
        }


PIO_OUT_LOW = rp2.PIO.OUT_LOW
PIO_OUT_HIGH = rp2.PIO.OUT_HIGH


def _pull(name):
    return Pin.PULL_UP if name == "up" else (Pin.PULL_DOWN if name == "down" else None)


def _offset(prog_list, pio):
    return prog_list[1 + pio]
