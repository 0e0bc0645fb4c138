"""Power-up loop of the emulated board (runs inside the board's interpreter).

Usage: emurun.py FIRMWARE_DIR SCRIPT [ARGS...]; SCRIPT "-" means the firmware's boot.py then
main.py, as the rp2 port runs them after every reset. When the board resets (watchdog,
machine.reset(), machine.soft_reset()) the hardware model raises emuboard.BoardReset out of
whatever the script was doing; this loop then clears the stand-ins' software state, forgets
the firmware's modules (a soft reset re-imports them) and runs the scripts again. A script
that returns normally ends the run (the device would drop to the REPL).
At power-up the jumpers named in the flash's board.json are wired on the board (architecture
§6): each `loopback` [output, input] pair, and `rig.estop_driver` to `pins.estop`.
"""

import sys

import emuboard


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
    standins = emuboard.__file__.rsplit("/", 1)[0] + "/"
    prefix = prefix.rstrip("/") + "/"
    for name in list(sys.modules):
        module = sys.modules[name]
        path = getattr(module, "__file__", None)
        if path is not None and path.startswith(prefix) and not path.startswith(standins):
            del sys.modules[name]


def wire_jumpers(board, board_json):
    """Wire the board file's jumpers: the input pad follows the output pad."""
    try:
        with open(board_json) as f:
            text = f.read()
    except OSError:
        return []
    import json

    cfg = json.loads(text)
    wires = [(pair[0], pair[1]) for pair in cfg.get("loopback", [])]
    rig = cfg.get("rig") or {}
    if rig.get("estop_driver") is not None:
        wires.append((rig["estop_driver"], cfg["pins"]["estop"]))
    for src, dst in wires:
        board.wire(src, dst)
    return wires


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
    wire_jumpers(emuboard.current(), firmware_dir + "/board.json")
    while True:
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
