"""PsychoPy experiment: a protocol from the library starts when the operator presses space.

    python examples/psychopy_keypress_protocol.py --port /dev/ttyACM0 --protocol sici --intensity 100
    python examples/psychopy_keypress_protocol.py --emulator --protocol sici --intensity 100

The safety envelope runs before the window opens (a refusal ends the script with the report);
while the protocol runs the screen shows its progress; Escape aborts it with the outputs idle.
Without PsychoPy installed it runs on examples/_psychopy_standin.py (no window, space pressed
at once).
"""

import argparse
import sys

try:
    from psychopy import core, event, visual
except ImportError:  # no PsychoPy here: the stand-in of examples/_psychopy_standin.py
    from _psychopy_standin import core, event, visual

import tmspio

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", help="the board's serial port (default: the one Pico attached)")
parser.add_argument("--emulator", action="store_true", help="use the emulated board")
parser.add_argument("--protocol", default="sici", help="library name or protocol file")
parser.add_argument("--intensity", type=float, help="%% of motor threshold (default: the file's)")
parser.add_argument("--out", help="run directory (default: runs/<protocol>-<UTC>)")
args = parser.parse_args()

try:
    tms = tmspio.Session(
        args.protocol,
        port=args.port,
        emulator=args.emulator,
        intensity=args.intensity,
        out=args.out,
    )
except tmspio.SafetyRefused as e:
    print("\n".join(e.report), file=sys.stderr)
    sys.exit(3)

win = visual.Window(size=(800, 600), color="black", units="height")
text = visual.TextStim(win, text=f"{args.protocol}: press space to start, escape to quit")
text.draw()
win.flip()
with tms:
    if event.waitKeys(keyList=["space", "escape"]) == ["space"]:
        tms.start()
        while tms.progress.phase not in ("done", "aborted"):
            p = tms.progress
            text.text = f"{p.phase}: {p.delivered} of {p.planned} pulses"
            text.draw()
            win.flip()
            if event.getKeys(keyList=["escape"]):
                tms.abort("escape pressed")
                break
            core.wait(0.1)
        summary = tms.wait()
        print(
            f"{summary['pulses_delivered']} of {summary['pulses_planned']} pulses; "
            f"aborted: {summary['aborted']}; run directory {tms.out}"
        )
win.close()
core.quit()
