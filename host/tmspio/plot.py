"""Timing plots of a run directory (matplotlib, Agg backend: no display needed).

timing.png     planned onsets (ticks above) against captured onsets (ticks below) per channel,
               for the whole run and zoomed on its first pulses, and each pulse's deviation
deviation.png  histogram of captured - planned onset, nanoseconds
"""

import csv
import json
import os

from .errors import InputError
from .logs import PULSE_COLUMNS

TIMING_PNG = "timing.png"
HISTOGRAM_PNG = "deviation.png"


def read_pulses(run_dir):
    path = os.path.join(run_dir, "pulses.csv")
    if not os.path.exists(path):
        raise InputError(f"{run_dir}: no pulses.csv (is this a tmspio run directory?)")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != PULSE_COLUMNS:
                raise InputError(f"{path}: header {','.join(reader.fieldnames or [])!r}: "
                                 f"expected {','.join(PULSE_COLUMNS)!r} (written by tmspio run)")
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    if not rows:
        raise InputError(f"{path}: no pulse rows, only the header (nothing to plot)")
    for line, r in enumerate(rows, start=2):
        for field in ("planned_s", "captured_s", "deviation_ns"):
            try:
                _float(r[field])
            except (TypeError, ValueError):
                raise InputError(f"{path}: line {line}: {field} = {r[field]!r}: a number or "
                                 "n/a") from None
    return rows


def _float(text):
    return None if text in ("", "n/a") else float(text)


def _cycle_ns(run_dir):
    """One sysclk cycle in ns, from summary.json (None when it is missing)."""
    try:
        with open(os.path.join(run_dir, "summary.json"), encoding="utf-8") as f:
            return 1e9 / json.load(f)["sysclk_hz"]
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def write_plots(run_dir):
    """Write timing.png and deviation.png into run_dir; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_pulses(run_dir)
    channels = []
    for r in rows:
        if r["channel"] not in channels:
            channels.append(r["channel"])
    fig, (ax, axz, axd) = plt.subplots(3, 1, figsize=(11, 8),
                                       gridspec_kw={"height_ratios": [2, 2, 1]})
    # the zoom shows the first few pulses of the run at pulse scale
    firsts = sorted(_float(r["planned_s"]) for r in rows)[:6]
    zoom = (firsts[0] - 0.002, firsts[-1] + 0.004) if firsts else (0, 1)
    for i, ch in enumerate(channels):
        mine = [r for r in rows if r["channel"] == ch]
        planned = [_float(r["planned_s"]) for r in mine]
        captured = [_float(r["captured_s"]) for r in mine if _float(r["captured_s"]) is not None]
        base = 2 * i
        for axis in (ax, axz):
            axis.vlines(planned, base + 1.05, base + 1.45, color="tab:blue", lw=0.8,
                        label="planned" if i == 0 else None)
            axis.vlines(captured, base + 0.55, base + 0.95, color="tab:orange", lw=0.8,
                        label="captured" if i == 0 else None)
        devs = [(_float(r["captured_s"]), _float(r["deviation_ns"])) for r in mine
                if _float(r["deviation_ns"]) is not None]
        if devs:
            axd.plot([d[0] for d in devs], [d[1] for d in devs], ".", ms=3, label=ch)
    for axis in (ax, axz):
        axis.set_yticks([2 * i + 1 for i in range(len(channels))], channels)
    ax.set_title(f"{os.path.basename(os.path.abspath(run_dir))}: planned vs captured onsets")
    ax.legend(loc="upper right")
    ax.set_xlabel("time from the start event (s)")
    axz.set_xlim(*zoom)
    axz.set_title("first pulses")
    axz.set_xlabel("time from the start event (s)")
    axd.set_xlabel("time from the start event (s)")
    axd.set_ylabel("deviation (ns)")
    axd.axhline(0, color="grey", lw=0.5)
    fig.tight_layout()
    timing = os.path.join(run_dir, TIMING_PNG)
    fig.savefig(timing, dpi=110)
    plt.close(fig)

    devs = [_float(r["deviation_ns"]) for r in rows if _float(r["deviation_ns"]) is not None]
    cycle_ns = _cycle_ns(run_dir)
    fig, axh = plt.subplots(figsize=(6, 4))
    if devs and cycle_ns:
        # one bin per sysclk cycle, centred on whole cycles
        lo = (min(devs) // cycle_ns) * cycle_ns - cycle_ns / 2
        hi = max(devs) + cycle_ns
        edges = [lo + k * cycle_ns for k in range(int((hi - lo) // cycle_ns) + 1)]
        axh.hist(devs, bins=edges, color="tab:orange")
        axh.set_xlabel("captured - planned onset (ns); bin = 1 cycle = %g ns" % cycle_ns)
    else:
        if devs:
            axh.hist(devs, bins=50, color="tab:orange")
        axh.set_xlabel("captured - planned onset (ns)")
    axh.set_ylabel("pulses")
    axh.set_title(f"deviation of {len(devs)} captured pulses")
    fig.tight_layout()
    hist = os.path.join(run_dir, HISTOGRAM_PNG)
    fig.savefig(hist, dpi=110)
    plt.close(fig)
    return timing, hist
