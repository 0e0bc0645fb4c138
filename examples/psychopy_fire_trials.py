"""PsychoPy experiment: one TMS pulse per trial, fired on command from the trial loop.

    python examples/psychopy_fire_trials.py --port /dev/ttyACM0 --intensity 110
    python examples/psychopy_fire_trials.py --emulator          # no hardware

Each trial shows a fixation cross, waits a jittered inter-trial interval and fires one pulse;
Escape aborts (the board's outputs go idle). Every pulse is in the run directory and in
`tms.pulses` with its board and host times (docs/api.md). Without PsychoPy installed it runs
on examples/_psychopy_standin.py (no window, no keys).
"""

import argparse
import random

try:
    from psychopy import core, event, visual
except ImportError:  # no PsychoPy here: the stand-in of examples/_psychopy_standin.py
    from _psychopy_standin import core, event, visual

import tmspio

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", help="the board's serial port (default: the one Pico attached)")
parser.add_argument("--emulator", action="store_true", help="use the emulated board")
parser.add_argument("--intensity", type=float, default=110, help="%% of resting motor threshold")
parser.add_argument("--trials", type=int, default=20)
parser.add_argument("--out", help="run directory (default: runs/fire-<UTC>)")
args = parser.parse_args()

win = visual.Window(size=(800, 600), color="black", units="height")
fixation = visual.TextStim(win, text="+", height=0.1)
clock = core.Clock()

with tmspio.Session(
    None,
    port=args.port,
    emulator=args.emulator,
    intensity=args.intensity,
    family="single-pulse",  # checked against the published single-pulse variant before each pulse
    out=args.out,
) as tms:
    last = None
    for trial in range(args.trials):
        fixation.draw()
        win.flip()
        core.wait(random.uniform(1.2, 1.5))  # ITI: the single-pulse variant needs >= 1.1 s
        if event.getKeys(keyList=["escape"]):
            tms.abort("escape pressed")
            break
        last = tms.fire("tms", trial=trial)
    if last is not None:
        tms.wait_pulse(last)  # the last pulse's record comes with its edge

print(f"{len(tms.pulses)} pulses; run directory {tms.out}")
for p in tms.pulses:
    print(
        f"trial {p.trial}: board {p.captured_board_s:.6f} s, host {p.captured_host_s:.6f} s "
        f"+- {p.host_uncertainty_s * 1e3:.2f} ms"
    )
win.close()
core.quit()
