"""tmspio plot: timing diagram and deviation histogram of a run directory."""

from .. import plot

HELP = "plot a run: planned vs captured onsets (timing.png) and a deviation histogram"


def add_arguments(p):
    p.add_argument("run_dir", metavar="DIR", help="run directory written by tmspio run")


def run(args):
    for path in plot.write_plots(args.run_dir):
        print(path)
    return 0
