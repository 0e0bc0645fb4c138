"""Timing plots of a run directory (matplotlib, Agg backend: no display needed).

timing.png     planned onsets (ticks above) against captured onsets (ticks below) per channel,
               for the whole run and zoomed on its first pulses, and each pulse's deviation
               (coloured by channel, or by condition when summary.json lists conditions, each
               labelled with its delivered/planned pulses and max |deviation|)
deviation.png  histogram of captured - planned onset, nanoseconds (stacked by condition)

Time and memory do not grow with the spread of the deviations, and memory not beyond KEEP_ROWS
pulses: pulses.csv is read in chunks of CHUNK rows, kept as arrays (32 bytes a pulse) for the
second pass up to KEEP_ROWS rows and read again beyond that; the histogram has
at most MAX_BINS bins of a whole number of cycles (histogram_edges), and timing.png draws at
most one tick per channel and COLUMNS-th of the time axis (and one deviation point per cell
of a COLUMNS x DEV_ROWS grid), each at the exact time of a pulse that falls there: finer than
the figure's pixels, so nothing visible is lost.
"""

import csv
import itertools
import json
import math
import os
import threading

from .errors import InputError
from .logs import PULSE_COLUMNS, PULSE_COLUMNS_V1

HEADERS = (PULSE_COLUMNS, PULSE_COLUMNS_V1)  # today's pulses.csv, and before trial/condition

TIMING_PNG = "timing.png"
HISTOGRAM_PNG = "deviation.png"
MAX_BINS = 200  # deviation histogram bins, whatever the spread
COLUMNS = 2000  # time resolution of timing.png (11 in at 110 dpi = 1210 px)
DEV_ROWS = 150  # deviation resolution of the per-pulse panel
CHUNK = 65536  # pulses.csv rows parsed at a time
KEEP_ROWS = 1 << 21  # rows kept as arrays between the two passes (64 MiB); more: read twice
FALLBACK_BINS = 50  # without sysclk_hz (no summary.json): equal bins over the range


def read_pulses(run_dir):
    """Every row of pulses.csv as a dict (the whole file in memory; write_plots streams)."""
    path = os.path.join(run_dir, "pulses.csv")
    if not os.path.exists(path):
        raise InputError(f"{run_dir}: no pulses.csv (is this a tmspio run directory?)")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames not in HEADERS:
                raise InputError(
                    f"{path}: header {','.join(reader.fieldnames or [])!r}: "
                    f"expected {','.join(PULSE_COLUMNS)!r} (written by tmspio run)"
                )
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
                raise InputError(
                    f"{path}: line {line}: {field} = {r[field]!r}: a number or n/a"
                ) from None
    return rows


def _float(text):
    return None if text in ("", "n/a") else float(text)


def _summary(run_dir):
    """summary.json as a dict ({} when it is missing or unreadable)."""
    try:
        with open(os.path.join(run_dir, "summary.json"), encoding="utf-8") as f:
            out = json.load(f)
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _cycle_ns(run_dir, summary=None):
    """One sysclk cycle in ns, from summary.json (None when it is missing)."""
    summary = _summary(run_dir) if summary is None else summary
    try:
        return 1e9 / summary["sysclk_hz"]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def _conditions(summary):
    """The run's condition names in the protocol's order (summary.json "conditions"), or []
    for a protocol without conditions: then nothing is grouped by condition."""
    conds = summary.get("conditions")
    return [str(name) for name in conds] if isinstance(conds, dict) else []


def histogram_edges(lo_ns, hi_ns, cycle_ns, max_bins=MAX_BINS):
    """(bin edges in ns, bin width in cycles) for deviations from lo_ns to hi_ns.

    Every bin covers the same whole number of cycles, w = 1, 2, 5, 10, 20, 50, ... cycles, the
    smallest that needs at most max_bins bins; edges sit half a cycle off the whole cycles the
    deviations are made of, and deviation 0 falls in the middle of its bin (cycles -w//2 ..
    w-1-w//2). One bin per cycle when the spread allows, as before; a 2 s spread at 125 MHz
    gets 126 bins of 2 000 000 cycles (16 ms), not 250 million bins of 8 ns."""
    c_lo = math.floor(lo_ns / cycle_ns + 0.5)  # the nearest whole cycles
    c_hi = math.floor(hi_ns / cycle_ns + 0.5)
    w = 1
    while True:
        for step in (1, 2, 5):
            width = w * step
            first = (c_lo + width // 2) // width * width - width // 2
            n = (c_hi - first) // width + 1
            if n <= max_bins:
                return [(first - 0.5 + k * width) * cycle_ns for k in range(n + 1)], width
        w *= 10


def _chunks(run_dir, names, conds=None):
    """pulses.csv as arrays of at most CHUNK rows: (channel number, planned_s, captured_s,
    deviation_ns, condition number), nan for n/a; channel numbers index `names`, filled in
    order of appearance; condition numbers index `conds` the same way (n/a and a pulses.csv
    without the column: -1), or None when conds is None (no grouping: nothing parsed).
    Validates every row as read_pulses does."""
    path = os.path.join(run_dir, "pulses.csv")
    if not os.path.exists(path):
        raise InputError(f"{run_dir}: no pulses.csv (is this a tmspio run directory?)")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header not in HEADERS:
                raise InputError(
                    f"{path}: header {','.join(header or [])!r}: "
                    f"expected {','.join(PULSE_COLUMNS)!r} (written by tmspio run)"
                )
            line, pulses = 2, 0
            while True:
                rows = list(itertools.islice(reader, CHUNK))
                if not rows:
                    break
                arrays = _arrays(path, line, rows, names, header, conds)
                line, pulses = line + len(rows), pulses + len(arrays[0])
                yield arrays
            if not pulses:
                raise InputError(f"{path}: no pulse rows, only the header (nothing to plot)")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None


_FIELDS = ("planned_s", "captured_s", "deviation_ns")


def _numbers(column, names, skip=()):
    """Each text of `column` as its index in `names` (new names appended in order of
    appearance); the texts in `skip` read -1."""
    import numpy as np

    text, first, inverse = np.unique(np.array(column), return_index=True, return_inverse=True)
    number = np.zeros(len(text), dtype=np.int64)
    for u in np.argsort(first):
        name = str(text[u])
        if name in skip:
            number[u] = -1
            continue
        if name not in names:
            names.append(name)
        number[u] = names.index(name)
    return number[inverse.reshape(-1)]


def _arrays(path, line, chunk, names, header=PULSE_COLUMNS, conds=None):
    """One chunk of csv rows (the first at file line `line`) as numpy arrays (see _chunks).
    As csv.DictReader (read_pulses): blank lines are skipped, missing fields read None."""
    import numpy as np

    width = len(header)
    rows = chunk
    if any(len(r) != width for r in chunk):
        rows = [(r + [None] * width)[:width] for r in chunk if r]
    cols = [header.index(name) for name in _FIELDS]
    try:
        values = [
            np.fromiter(
                (math.nan if r[c] in ("", "n/a") else float(r[c]) for r in rows), float, len(rows)
            )
            for c in cols
        ]
    except (TypeError, ValueError):  # find the row and field, with read_pulses's message
        for n, r in enumerate(chunk, start=line):
            if not r:
                continue
            r = r + [None] * (width - len(r))
            for field, c in zip(_FIELDS, cols):
                try:
                    _float(r[c])
                except (TypeError, ValueError):
                    raise InputError(
                        f"{path}: line {n}: {field} = {r[c]!r}: a number or n/a"
                    ) from None
        raise
    group = None
    if conds is not None:
        if "condition" in header:
            c = header.index("condition")
            group = _numbers([r[c] or "" for r in rows], conds, skip=("", "n/a"))
        else:
            group = np.full(len(rows), -1, dtype=np.int64)
    return (_numbers([r[0] for r in rows], names), *values, group)


class _Ticks:
    """At most one onset per column of [lo, hi): the exact time of one pulse in each."""

    def __init__(self, lo, hi):
        import numpy as np

        self.lo, self.hi = lo, hi
        self.scale = COLUMNS / (hi - lo)
        self.at = np.full(COLUMNS, np.nan)

    def add(self, t):
        import numpy as np

        t = t[(t >= self.lo) & (t <= self.hi)]
        col = np.minimum(((t - self.lo) * self.scale).astype(np.int64), COLUMNS - 1)
        self.at[col] = t

    def times(self):
        import numpy as np

        return self.at[~np.isnan(self.at)]


def _span(lo, hi):
    """A non-empty interval around [lo, hi]."""
    if hi > lo:
        return lo, hi
    return lo - 0.5, lo + 0.5


def scan_pulses(run_dir):
    """What the plots draw, from pulses.csv in two bounded passes: a dict with names (channels
    in order), n_dev (pulses with a deviation), zoom (s), ticks (per channel: _Ticks of planned
    and captured onsets, whole run then zoom), cells (per channel: captured time and deviation
    of one pulse per cell, nan elsewhere), edges/counts/width (histogram: bin edges in ns,
    pulses per bin, bin width in cycles or None), cycle_ns, and for a run whose summary.json
    lists conditions: conditions (their names), cond_cells and cond_counts (the cells and
    histogram counts per condition; pulses without one are in neither); else conditions []."""
    import numpy as np

    summary = _summary(run_dir)
    conds = _conditions(summary)
    grouped = conds if conds else None  # no condition column parsed without conditions
    # pass 1: channels, ranges, the first planned onsets
    names = []
    t_lo = d_lo = math.inf
    t_hi = d_hi = -math.inf
    n_dev = 0
    firsts = np.array([])
    first_captured = np.array([])
    kept, rows = [], 0  # the parsed chunks for pass 2 (None: too many, read them again)
    for chunk in _chunks(run_dir, names, grouped):
        _, planned, captured, dev, _ = chunk
        rows += len(planned)
        if kept is not None:
            kept.append(chunk)
            if rows > KEEP_ROWS:
                kept = None
        for t in (planned, captured):
            t = t[~np.isnan(t)]
            if t.size:
                t_lo, t_hi = min(t_lo, t.min()), max(t_hi, t.max())
        d = dev[~np.isnan(dev)]
        if d.size:
            d_lo, d_hi, n_dev = min(d_lo, d.min()), max(d_hi, d.max()), n_dev + d.size
        firsts = np.sort(np.concatenate([firsts, planned[~np.isnan(planned)]]))[:6]
        first_captured = np.sort(np.concatenate([first_captured, captured[~np.isnan(captured)]]))[
            :6
        ]
    if not firsts.size:  # no planned onset known (trigger never came): the captured ones
        firsts = first_captured
    # the zoom shows the first few pulses of the run at pulse scale
    # (2 % of the span beyond the first and last: a pulse is not hidden under the frame)
    if firsts.size:
        margin = 0.02 * (firsts[-1] - firsts[0])
        zoom = (firsts[0] - max(0.002, margin), firsts[-1] + max(0.004, margin))
    else:
        zoom = (0, 1)
    full = _span(t_lo, t_hi) if t_hi >= t_lo else (0, 1)
    dev_span = _span(d_lo, d_hi) if n_dev else (0, 1)
    cycle_ns = _cycle_ns(run_dir, summary)
    if n_dev and cycle_ns:
        edges, width = histogram_edges(d_lo, d_hi, cycle_ns)
    elif n_dev:
        edges, width = list(np.linspace(*dev_span, FALLBACK_BINS + 1)), None
    else:
        edges, width = [], None
    counts = np.zeros(max(len(edges) - 1, 0), dtype=np.int64)

    def grid():
        return np.full((DEV_ROWS, COLUMNS), np.nan), np.full((DEV_ROWS, COLUMNS), np.nan)

    # pass 2: bounded ticks, deviation cells and histogram counts
    ticks = [[_Ticks(*full), _Ticks(*full), _Ticks(*zoom), _Ticks(*zoom)] for _ in names]
    cells = [grid() for _ in names]
    cond_cells = [grid() for _ in conds]
    cond_counts = [np.zeros_like(counts) for _ in conds]
    x_scale = COLUMNS / (full[1] - full[0])
    y_scale = DEV_ROWS / (dev_span[1] - dev_span[0])

    def place(target, c, d):
        ok = ~np.isnan(d) & ~np.isnan(c)
        x, y = c[ok], d[ok]
        col = np.clip(((x - full[0]) * x_scale).astype(np.int64), 0, COLUMNS - 1)
        row = np.clip(((y - dev_span[0]) * y_scale).astype(np.int64), 0, DEV_ROWS - 1)
        target[0][row, col] = x
        target[1][row, col] = y

    chunks = _chunks(run_dir, [], grouped) if kept is None else kept
    for ch, planned, captured, dev, group in chunks:
        for i in np.unique(ch):
            mine = ch == i
            p, c, d = planned[mine], captured[mine], dev[mine]
            for tk, t in zip(ticks[i], (p, c, p, c)):
                tk.add(t[~np.isnan(t)])
            place(cells[i], c, d)
        if group is not None:
            for g in np.unique(group[group >= 0]):
                mine = group == g
                place(cond_cells[g], captured[mine], dev[mine])
                if counts.size:
                    d = dev[mine]
                    cond_counts[g] += np.histogram(d[~np.isnan(d)], bins=edges)[0]
        if counts.size:
            d = dev[~np.isnan(dev)]
            counts += np.histogram(d, bins=edges)[0]
    return {
        "names": names,
        "n_dev": n_dev,
        "zoom": zoom,
        "ticks": ticks,
        "cells": cells,
        "edges": edges,
        "counts": counts,
        "width": width,
        "cycle_ns": cycle_ns,
        "conditions": conds,
        "cond_cells": cond_cells,
        "cond_counts": cond_counts,
        "summary": summary,
    }


def _condition_label(name, summary):
    """'sici: 10/10 delivered, max |dev| 8 ns' from summary.json's conditions."""
    c = (summary.get("conditions") or {}).get(name) or {}
    dev = c.get("max_abs_deviation_ns")
    return "%s: %s/%s delivered, max |dev| %s" % (
        name,
        c.get("pulses_delivered", "?"),
        c.get("pulses_planned", "?"),
        "n/a" if dev is None else "%g ns" % dev,
    )


def preload():
    """Import matplotlib's heavy modules on a daemon thread while a run goes on, so the plots at
    its end cost only the drawing (about 0.6 s of imports here). Selects no backend, so a
    script's own matplotlib setup is untouched until write_plots."""

    def load():
        try:
            import matplotlib.backends.backend_agg  # noqa: F401
            import matplotlib.figure  # noqa: F401
            import numpy  # noqa: F401
        except Exception:  # noqa: BLE001 - write_plots reports a broken install itself
            pass

    t = threading.Thread(target=load, name="tmspio-plot-preload", daemon=True)
    t.start()
    return t


def write_plots(run_dir):
    """Write timing.png and deviation.png into run_dir; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    scan = scan_pulses(run_dir)
    names, ticks, cells, zoom = scan["names"], scan["ticks"], scan["cells"], scan["zoom"]
    edges, counts, width, cycle_ns = (
        scan["edges"],
        scan["counts"],
        scan["width"],
        scan["cycle_ns"],
    )
    fig, (ax, axz, axd) = plt.subplots(
        3, 1, figsize=(11, 8), gridspec_kw={"height_ratios": [2, 2, 1]}
    )
    for i, ch in enumerate(names):
        base = 2 * i
        for axis, (planned, captured) in ((ax, ticks[i][:2]), (axz, ticks[i][2:])):
            axis.vlines(
                planned.times(),
                base + 1.05,
                base + 1.45,
                color="tab:blue",
                lw=0.8,
                label="planned" if i == 0 else None,
            )
            axis.vlines(
                captured.times(),
                base + 0.55,
                base + 0.95,
                color="tab:orange",
                lw=0.8,
                label="captured" if i == 0 else None,
            )
        if not scan["conditions"]:  # deviations by channel; with conditions, by condition
            xs, ys = cells[i]
            ok = ~np.isnan(xs)
            if ok.any():
                axd.plot(xs[ok], ys[ok], ".", ms=3, label=ch)
    for name, (xs, ys) in zip(scan["conditions"], scan["cond_cells"]):
        ok = ~np.isnan(xs)
        axd.plot(xs[ok], ys[ok], ".", ms=3, label=_condition_label(name, scan["summary"]))
    for axis in (ax, axz):
        axis.set_yticks([2 * i + 1 for i in range(len(names))], names)
    ax.set_title(f"{os.path.basename(os.path.abspath(run_dir))}: planned vs captured onsets")
    ax.legend(loc="upper right")
    ax.set_xlabel("time from the start event (s)")
    axz.set_xlim(*zoom)
    axz.set_title("first pulses")
    axz.set_xlabel("time from the start event (s)")
    axd.set_xlabel("time from the start event (s)")
    axd.set_ylabel("deviation (ns)")
    axd.axhline(0, color="grey", lw=0.5)
    if scan["conditions"]:
        axd.set_title("deviation by condition")
        axd.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    timing = os.path.join(run_dir, TIMING_PNG)
    fig.savefig(timing, dpi=110)
    plt.close(fig)

    fig, axh = plt.subplots(figsize=(6, 4))
    if counts.size and scan["conditions"]:  # stacked: one colour per condition
        axh.hist(
            [edges[:-1]] * len(scan["conditions"]),
            bins=edges,
            weights=scan["cond_counts"],
            stacked=True,
            label=scan["conditions"],
        )
        axh.legend(fontsize="small")
    elif counts.size:
        axh.hist(edges[:-1], bins=edges, weights=counts, color="tab:orange")
    if width is not None:
        ns = width * cycle_ns
        axh.set_xlabel(
            "captured - planned onset (ns)\nbin = %d cycle%s = %s ns"
            % (width, "" if width == 1 else "s", f"{ns:,.0f}" if ns == round(ns) else f"{ns:g}")
        )
    else:
        axh.set_xlabel("captured - planned onset (ns)")
    axh.set_ylabel("pulses")
    axh.set_title(f"deviation of {scan['n_dev']} captured pulses")
    fig.tight_layout()
    hist = os.path.join(run_dir, HISTOGRAM_PNG)
    fig.savefig(hist, dpi=110)
    plt.close(fig)
    return timing, hist
