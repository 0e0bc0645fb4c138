"""Timing plots of a run directory (matplotlib, Agg backend: no display needed).

timing.png     planned onsets (ticks above) against captured onsets (ticks below) per channel,
               with each pulse's deviation on a second panel
deviation.png  histogram of captured - planned onset, nanoseconds
"""

import csv
import os

from .errors import InputError

TIMING_PNG = "timing.png"
HISTOGRAM_PNG = "deviation.png"


def read_pulses(run_dir):
    path = os.path.join(run_dir, "pulses.csv")
    if not os.path.exists(path):
        raise InputError(f"{run_dir}: no pulses.csv (is this a tmspio run directory?)")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _float(text):
    return None if text in ("", "n/a") else float(text)


def write_plots(run_dir):
    """Write timing.png and deviation.png into run_dir; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_pulses(run_dir)
    channels = sorted({r["channel"] for r in rows}, key=lambda c: [r["channel"] for r in rows]
                      .index(c))
    fig, (ax, axd) = plt.subplots(2, 1, figsize=(11, 6), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})
    for i, ch in enumerate(channels):
        mine = [r for r in rows if r["channel"] == ch]
        planned = [_float(r["planned_s"]) for r in mine]
        captured = [_float(r["captured_s"]) for r in mine if _float(r["captured_s"]) is not None]
        base = 2 * i
        ax.vlines(planned, base + 1.05, base + 1.45, color="tab:blue", lw=0.6,
                  label="planned" if i == 0 else None)
        ax.vlines(captured, base + 0.55, base + 0.95, color="tab:orange", lw=0.6,
                  label="captured" if i == 0 else None)
        devs = [(_float(r["captured_s"]), _float(r["deviation_ns"])) for r in mine
                if _float(r["deviation_ns"]) is not None]
        if devs:
            axd.plot([d[0] for d in devs], [d[1] for d in devs], ".", ms=2, label=ch)
    ax.set_yticks([2 * i + 1 for i in range(len(channels))], channels)
    ax.set_title(f"{os.path.basename(os.path.abspath(run_dir))}: planned vs captured onsets")
    ax.legend(loc="upper right")
    axd.set_xlabel("time from the start event (s)")
    axd.set_ylabel("deviation (ns)")
    axd.axhline(0, color="grey", lw=0.5)
    fig.tight_layout()
    timing = os.path.join(run_dir, TIMING_PNG)
    fig.savefig(timing, dpi=110)
    plt.close(fig)

    devs = [_float(r["deviation_ns"]) for r in rows if _float(r["deviation_ns"]) is not None]
    fig, axh = plt.subplots(figsize=(6, 4))
    if devs:
        lo, hi = min(devs), max(devs)
        bins = 1 if lo == hi else 50
        axh.hist(devs, bins=bins, range=(lo - 0.5, hi + 0.5) if lo == hi else None,
                 color="tab:orange")
    axh.set_xlabel("captured - planned onset (ns)")
    axh.set_ylabel("pulses")
    axh.set_title(f"deviation of {len(devs)} captured pulses")
    fig.tight_layout()
    hist = os.path.join(run_dir, HISTOGRAM_PNG)
    fig.savefig(hist, dpi=110)
    plt.close(fig)
    return timing, hist
