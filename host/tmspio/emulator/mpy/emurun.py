"""Power-up loop of the emulated board (runs inside the board's interpreter).

Usage: emurun.py FIRMWARE_DIR SCRIPT [ARGS...]; SCRIPT "-" means the firmware's boot.py then
main.py, as the rp2 port runs them after every reset. When the board resets (watchdog,
machine.reset(), machine.soft_reset()) the hardware model raises emuboard.BoardReset out of
whatever the script was doing; this loop then clears the stand-ins' software state, forgets
the firmware's modules (a soft reset re-imports them) and runs the scripts again. A script
that returns normally ends the run (the device would drop to the REPL).
At power-up the jumpers named in the flash's board.json are wired on the board (architecture
§6): each `loopback` [output, input] pair, and `rig.estop_driver` to `pins.estop`. The test
rig's external inputs (`rig.trigger_source`, `rig.confirm_delay_s`, `rig.log`) come from the
board file's `rig`, overridden key by key by the JSON object in TMSPIO_EMU_RIG; they are
scheduled in board time, so they are cycle-exact at any emulation speed.
"""

import sys

try:
    from rp2040 import board as emuboard
except ImportError:  # the host loads this file only for rig_config() (pure)
    emuboard = None


def _exec_file(path, args):
    with open(path) as f:
        source = f.read()
    sys.argv.clear()
    sys.argv.append(path)
    sys.argv.extend(args)
    exec(compile(source, path, "exec"), {"__name__": "__main__", "__file__": path})


def _exists(path):
    try:
        open(path).close()
        return True
    except OSError:
        return False


def _forget_modules(prefix):
    """Forget the modules loaded from `prefix` (a soft reset re-imports them), never the
    stand-ins themselves (their state was reset in place; other modules hold them)."""
    standins = emuboard.__file__.rsplit("/", 2)[0] + "/"  # mpy/ (the model is mpy/rp2040/)
    prefix = prefix.rstrip("/") + "/"
    for name in list(sys.modules):
        module = sys.modules[name]
        path = getattr(module, "__file__", None)
        if path is not None and path.startswith(prefix) and not path.startswith(standins):
            del sys.modules[name]


def wire_jumpers(board, board_json, rig_text=None):
    """Wire the board file's jumpers (the input pad follows the output pad) and start the rig's
    inputs. Returns the plain wires [(output, input)]."""
    try:
        with open(board_json) as f:
            text = f.read()
    except OSError:
        return []
    import json

    cfg = json.loads(text)
    rig = rig_config(cfg, rig_text)
    delayed = rig.get("confirm_delay_s") is not None
    confirm = cfg["pins"].get("confirm_in")
    wires = []
    for pair in cfg.get("loopback", []):
        if not (delayed and pair[1] == confirm):
            wires.append((pair[0], pair[1]))
    if rig.get("estop_driver") is not None:
        wires.append((rig["estop_driver"], cfg["pins"]["estop"]))
    if rig.get("log") is not None:
        _RigLog(board, cfg, rig["log"])  # first: it sees the rig's own power-up levels too
    for src, dst in wires:
        board.wire(src, dst)
    sysclk = cfg.get("sysclk_hz", DEFAULT_SYSCLK)
    if delayed:
        for pair in cfg.get("loopback", []):
            if pair[1] == confirm:
                _DelayLine(board, pair[0], confirm, _cycles(rig["confirm_delay_s"], sysclk))
    if rig.get("trigger_source") is not None:
        active = 0 if cfg.get("polarity", {}).get("trigger_in") == "falling" else 1
        _TriggerSource(
            board, cfg["pins"]["trigger_in"], active, _source_cycles(rig["trigger_source"], sysclk)
        ).start()
    return wires


# ---- the test rig's inputs (board.json "rig" + TMSPIO_EMU_RIG; docs/architecture.md §6) -------

RIG_KEYS = ("estop_driver", "trigger_source", "confirm_delay_s", "log")
SOURCE_KEYS = ("first_s", "period_s", "count", "width_s", "times_s")
DEFAULT_TRIGGER_WIDTH_S = 0.001  # our choice for a TTL start pulse, not a device fact


class RigError(ValueError):
    """A rig entry is malformed; the text names the field, the value and what is allowed."""


def rig_config(cfg, rig_text=None):
    """The board file's `rig` with TMSPIO_EMU_RIG's keys on top, validated. Pure.

    rig_text None: read TMSPIO_EMU_RIG from the environment; "" means no override."""
    import json

    if rig_text is None:
        rig_text = _getenv("TMSPIO_EMU_RIG") or ""
    rig = dict(cfg.get("rig") or {})
    if rig_text:
        try:
            extra = json.loads(rig_text)
        except ValueError:
            raise RigError(
                "TMSPIO_EMU_RIG = %r: not JSON; expected an object such as "
                '{"trigger_source": {"period_s": 1}}' % (rig_text,)
            ) from None
        if not isinstance(extra, dict):
            raise RigError("TMSPIO_EMU_RIG = %r: expected a JSON object" % (rig_text,))
        for key in extra:
            rig[key] = extra[key]
    for key in rig:
        if key not in RIG_KEYS:
            _rig_fail(key, rig[key], "unknown key; allowed " + ", ".join(RIG_KEYS))
    pins = cfg.get("pins") or {}
    gpio = rig.get("estop_driver")
    outputs = pins.get("trigger", [gpio])  # a test's minimal board file may name no outputs
    if gpio is not None and not (_is_int(gpio) and gpio in outputs):
        _rig_fail("estop_driver", gpio, "a trigger output GPIO %r" % (outputs,))
    sysclk = cfg.get("sysclk_hz", DEFAULT_SYSCLK)
    if rig.get("trigger_source") is not None:
        _source_cycles(rig["trigger_source"], sysclk)
        if not _is_int(pins.get("trigger_in")):
            _rig_fail(
                "trigger_source", rig["trigger_source"], "needs pins.trigger_in in the board file"
            )
    delay = rig.get("confirm_delay_s")
    if delay is not None:
        if not (_is_number(delay) and _cycles(delay, sysclk) >= 1):
            _rig_fail("confirm_delay_s", delay, "a number of seconds >= one sysclk cycle")
        confirm = pins.get("confirm_in")
        if not [p for p in cfg.get("loopback", []) if p[1] == confirm]:
            _rig_fail(
                "confirm_delay_s",
                delay,
                "needs a loopback jumper into confirm_in "
                "(GPIO%s) to delay; the board file has none" % (confirm,),
            )
    log = rig.get("log")
    if log is not None and not (isinstance(log, str) and log):
        _rig_fail("log", log, "a file path (relative: to the flash directory)")
    return rig


def _source_cycles(src, sysclk):
    """trigger_source -> (sorted onset cycles or None, first, period, count or None, width)."""
    if not isinstance(src, dict):
        _rig_fail(
            "trigger_source",
            src,
            "an object with period_s (and first_s, count, width_s) or times_s",
        )
    for key in src:
        if key not in SOURCE_KEYS:
            _rig_fail(
                "trigger_source." + key, src[key], "unknown key; allowed " + ", ".join(SOURCE_KEYS)
            )
    width_s = src.get("width_s", DEFAULT_TRIGGER_WIDTH_S)
    if not (_is_number(width_s) and _cycles(width_s, sysclk) >= 1):
        _rig_fail("trigger_source.width_s", width_s, "a number of seconds >= one sysclk cycle")
    width = _cycles(width_s, sysclk)
    if "times_s" in src:
        for key in ("first_s", "period_s", "count"):
            if key in src:
                _rig_fail("trigger_source." + key, src[key], "not allowed with times_s")
        times = src["times_s"]
        if not (
            isinstance(times, list) and times and all(_is_number(t) and t >= 0 for t in times)
        ):
            _rig_fail(
                "trigger_source.times_s", times, "a non-empty list of seconds >= 0 after power-up"
            )
        cycles = [_cycles(t, sysclk) for t in times]
        for i in range(1, len(cycles)):
            if cycles[i] - cycles[i - 1] <= width:
                _rig_fail(
                    "trigger_source.times_s[%d]" % i,
                    times[i],
                    "later than the previous trigger + width_s (%r s): the line must "
                    "return to idle between triggers" % (width_s,),
                )
        return (cycles, None, None, None, width)
    period_s = src.get("period_s")
    if not (_is_number(period_s) and period_s > 0):
        _rig_fail(
            "trigger_source.period_s",
            period_s,
            "a number of seconds > 0 (or give times_s instead)",
        )
    period = _cycles(period_s, sysclk)
    if period <= width:
        _rig_fail(
            "trigger_source.period_s",
            period_s,
            "longer than width_s (%r s): the line must return to idle" % (width_s,),
        )
    first_s = src.get("first_s", period_s)
    if not (_is_number(first_s) and first_s >= 0):
        _rig_fail("trigger_source.first_s", first_s, "a number of seconds >= 0 after power-up")
    count = src.get("count")
    if count is not None and not (_is_int(count) and count >= 1):
        _rig_fail("trigger_source.count", count, "an integer >= 1 (absent: no end)")
    return (None, _cycles(first_s, sysclk), period, count, width)


def _rig_fail(field, value, allowed):
    import json

    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    raise RigError("rig.%s = %s: %s" % (field, shown, allowed))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (
        (_is_int(v) or isinstance(v, float)) and v == v and v not in (float("inf"), float("-inf"))
    )


def _cycles(seconds, sysclk):
    return int(round(seconds * sysclk))


def _getenv(name):
    try:
        import os

        return os.getenv(name)
    except (ImportError, AttributeError):
        return None


class _TriggerSource:
    """Drives trigger_in: idle from power-up, active for `width` cycles at every onset."""

    def __init__(self, board, pin, active, plan):
        self.board, self.pin, self.active = board, pin, active
        self.times, self.next, self.period, self.left, self.width = plan

    def start(self):
        self.board.drive(self.pin, 1 - self.active)
        if self.times is not None:
            for t in self.times:  # a fixed list: every edge queued now
                self.board.drive(self.pin, self.active, at=t)
                self.board.drive(self.pin, 1 - self.active, at=t + self.width)
        else:
            self.board.schedule(self.next, self._fire)

    def _fire(self, board):
        # One train step at a time: an endless source never fills the drive queue.
        t = self.next
        board.drive(self.pin, self.active, at=t)
        board.drive(self.pin, 1 - self.active, at=t + self.width)
        if self.left is not None:
            self.left -= 1
            if self.left == 0:
                return
        self.next = t + self.period
        board.schedule(self.next, self._fire)


class _DelayLine:
    """The emulated stimulator's trigger-out: `dst` repeats pad `src` `delay` cycles later."""

    def __init__(self, board, src, dst, delay):
        board.drive(dst, board.level(src))
        # One watch per edge direction: the level comes with the edge, never read late.
        board.watch_edges(
            src, lambda pin, cycle: board.drive(dst, 1, at=cycle + delay), falling=False
        )
        board.watch_edges(
            src, lambda pin, cycle: board.drive(dst, 0, at=cycle + delay), rising=False
        )


class _RigLog:
    """One JSON line per edge of the rig's pads (trigger outputs, trigger_in, confirm_in,
    estop) in board cycles: what the rig drove and what the firmware answered. Rewritten at
    every power-up of the emulated board."""

    def __init__(self, board, cfg, path):
        pins = cfg.get("pins") or {}
        roles = {}
        outputs = pins.get("trigger", [])
        for i in range(len(outputs)):
            roles[outputs[i]] = "trigger[%d]" % i
        for role in ("trigger_in", "confirm_in", "estop"):
            if pins.get(role) is not None:
                roles[pins[role]] = role
        self.file = open(path, "w")
        for pin in roles:
            board.watch_edges(pin, self._writer(pin, roles[pin], 1), falling=False)
            board.watch_edges(pin, self._writer(pin, roles[pin], 0), rising=False)

    def _writer(self, pin, role, level):
        tail = ', "pin": %d, "role": "%s", "level": %d}\n' % (pin, role, level)

        def write(pin, cycle):
            self.file.write('{"cycle": %d' % cycle + tail)
            self.file.flush()

        return write


DEFAULT_SYSCLK = 125000000  # the rp2 port's clk_sys on RP2040 after power-up


def soft_reset_standins(cause):
    """What a reset does to the port's C state, for every stand-in.

    Every reset restarts the interpreter (rp2_pio_deinit, DMA finalisers, IRQ handlers gone);
    a watchdog reset (also machine.reset()) also resets the chip's TIMER and clocks, which the
    port's start-up code sets to the default frequency again.
    """
    import time

    import machine
    import rp2
    import softirq

    rp2.soft_reset()
    machine.soft_reset_state()
    softirq.clear()
    if cause == "watchdog":
        board = emuboard.current()
        board.sysclk = DEFAULT_SYSCLK
        time.timer_reset(board)


def _print_exception(e):
    """Traceback to stderr on both interpreters (the unix port's own goes to stdout)."""
    if hasattr(sys, "print_exception"):
        sys.print_exception(e, sys.stderr)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def main(argv):
    firmware_dir, script, args = argv[0], argv[1], argv[2:]
    if script == "-":
        scripts = [firmware_dir + "/boot.py", firmware_dir + "/main.py"]
        scripts = [path for path in scripts if _exists(path)]
        if not scripts:
            raise SystemExit("emurun: no boot.py or main.py in " + firmware_dir)
    else:
        scripts = [script]
        if "/" in script:  # as `micropython script.py` would, behind the stand-ins
            sys.path.insert(1, script.rsplit("/", 1)[0])
    try:
        wire_jumpers(emuboard.current(), firmware_dir + "/board.json")
    except RigError as e:
        raise SystemExit("emurun: " + str(e))
    while True:
        if script == "-":
            # the powered board behind the pty: nobody reads pad traces (the rig log watches
            # edges by callback), and an hours-long session must not fill the heap with them
            emuboard.current().set_tracing(())
        try:
            for path in scripts:
                _exec_file(path, args)
            return 0
        except emuboard.BoardReset as e:
            soft_reset_standins(e.cause)
            _forget_modules(firmware_dir)
            if script != "-" and "/" in script:
                _forget_modules(script.rsplit("/", 1)[0])
        except SystemExit:
            raise
        except BaseException as e:  # noqa: BLE001 - report like the REPL would, exit 1
            _print_exception(e)
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
