# Boot: outputs safe first, then the board file, the engine and the command loop.
# The firmware ends (and MicroPython's REPL takes the port) only on the host's framed
# maintenance request; an exception restarts the command loop with the outputs idle.
# The first block runs before any import that can fail. At boot the firmware does not know the
# channels' idle levels (they come with a program), so it drives nothing: every trigger output
# and the marker become inputs with the pull-down on, which also takes them off a state machine
# left running by a soft reset (Pin(IN) selects SIO and clears any output override). The line's
# idle level is then held by the pull-down, or by the external R_idle resistor of an idle-high
# line (docs/wiring.md). If board.json is unreadable, the trigger and marker pins of every
# shipped board (GPIO 0-11) are made safe the same way and the firmware stops there.
import machine


def _ints_after(text, key, bracket):
    # The minimal parser: the integers of `"key": [..]` (bracket) or `"key": n`. Cannot raise.
    out = []
    i = text.find('"' + key + '"')
    if i < 0:
        return out
    i = text.find(":", i) + 1
    while i < len(text) and text[i] == " ":
        i += 1
    if bracket != (text[i : i + 1] == "["):
        return out
    n = -1
    for c in text[i : i + 200]:
        if "0" <= c <= "9":
            n = (0 if n < 0 else n * 10) + ord(c) - 48
            continue
        if n >= 0:
            out.append(n)
            n = -1
        if c in "]}" or (c == "," and not bracket):
            break
    return out


def _safe_pins():
    try:
        with open("board.json") as f:
            text = f.read()
        pins = _ints_after(text, "trigger", True) + _ints_after(text, "marker", False)
        if pins:
            return pins, True
    except Exception:
        pass
    return list(range(12)), False


_PINS, _BOARD_OK = _safe_pins()
for _p in _PINS:
    try:
        machine.Pin(_p, machine.Pin.IN, machine.Pin.PULL_DOWN)
    except Exception:
        pass

# ---- from here on, imports may fail: the outputs are already safe -----------------------------
import json  # noqa: E402
import time  # noqa: E402

from engine import Engine  # noqa: E402

RESTART_PAUSE_MS = 100


def _make_safe(engine, e):
    # engine.stop() first; if even that fails (out of memory, say), the boot block's way: every
    # trigger and marker pin an input with the pull-down. Never raises. Returns the fault text.
    try:
        engine.stop("exception: %r" % (e,))
    except BaseException:  # noqa: B036 - nothing may escape to the REPL
        for p in _PINS:
            try:
                machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_DOWN)
            except BaseException:  # noqa: B036
                pass
    try:
        return "command loop restarted after %r" % (e,)
    except BaseException:  # noqa: B036 - formatting can run out of memory too
        return "command loop restarted after an exception"


def main():
    if not _BOARD_OK:
        print("tmspio: board.json missing or unreadable; outputs held safe, firmware stopped")
        return
    with open("board.json") as f:
        board = json.load(f)
    hz = board["sysclk_hz"]
    if machine.freq() != hz:
        try:
            machine.freq(hz)  # the board file's clock: 1 PIO cycle = 1 / sysclk_hz
        except ValueError as e:  # engine.load() then refuses every program, naming the clocks
            print("tmspio: machine.freq(%d) failed: %s" % (hz, e))
    engine = Engine(board)
    import service

    fault = None
    while True:
        try:
            service.run(engine, board, fault)
        except Exception as e:  # outputs idle before anything else, then serve again: a
            # crash must not leave the port to the REPL, where line noise would run as code
            fault = _make_safe(engine, e)
            time.sleep_ms(RESTART_PAUSE_MS)  # a loop that fails at once must not spin
            continue
        except BaseException as e:  # SystemExit, or Ctrl-C typed on a debug console
            _make_safe(engine, e)
            raise
        # the host's maintenance request: the loop made the outputs idle, the REPL takes over
        print("tmspio: firmware stopped for maintenance; outputs idle. Ctrl-D restarts it.")
        return


main()
