"""tmspio.plot keeps its bins and memory bounded whatever the spread or the number of pulses
(issue 9 item 4: a 2 s spread once asked for 250 million 8 ns bins)."""

import json
import random

import numpy as np
from tmspio import logs, plot

CLK = 125_000_000
CYCLE_NS = 8.0


def test_histogram_of_a_2_s_spread_has_126_bins_of_2_000_000_cycles():
    edges, width = plot.histogram_edges(0.0, 2e9, CYCLE_NS)  # 0 .. 250 000 000 cycles
    # 1 000 000-cycle bins would need 251 (> MAX_BINS = 200); the next 1-2-5 step fits
    assert width == 2_000_000
    assert len(edges) == 127  # 126 bins
    assert edges == [(-1_000_000.5 + 2_000_000 * k) * CYCLE_NS for k in range(127)]
    assert (edges[0], edges[-1]) == (-8_000_004.0, 2_007_999_996.0)
    # deviation 0 is in the middle of bin 0: cycles -1 000 000 .. 999 999
    assert edges[0] < 0 < edges[1] and edges[1] == 7_999_996.0


def test_histogram_keeps_one_bin_per_cycle_when_the_spread_allows():
    assert plot.histogram_edges(0.0, 8.0, CYCLE_NS) == ([-4.0, 4.0, 12.0], 1)
    assert plot.histogram_edges(-16.0, 24.0, CYCLE_NS) == (
        [(c - 0.5) * CYCLE_NS for c in range(-2, 5)],
        1,
    )
    assert plot.histogram_edges(40.0, 40.0, CYCLE_NS) == ([36.0, 44.0], 1)
    # 200 bins of 1 cycle: still 1 cycle; 201 cycles of spread: 2-cycle bins
    assert plot.histogram_edges(0.0, 199 * CYCLE_NS, CYCLE_NS)[1] == 1
    edges, width = plot.histogram_edges(0.0, 200 * CYCLE_NS, CYCLE_NS)
    assert (width, len(edges) - 1, edges[0]) == (2, 101, -1.5 * CYCLE_NS)


def test_histogram_bins_are_bounded_and_whole_cycles_for_any_spread():
    rnd = random.Random(9)
    for _ in range(300):
        lo = rnd.randint(-(10**12), 10**12)
        hi = lo + rnd.choice([0, 1, 7, 199, 200, 10**3, 10**6, 10**9, 10**12])
        edges, width = plot.histogram_edges(lo * CYCLE_NS, hi * CYCLE_NS, CYCLE_NS)
        assert 1 <= len(edges) - 1 <= plot.MAX_BINS
        assert width >= 1 and str(width).strip("0") in ("1", "2", "5")
        assert edges[0] < lo * CYCLE_NS and edges[-1] > hi * CYCLE_NS
        steps = {round((b - a) / CYCLE_NS) for a, b in zip(edges, edges[1:])}
        assert steps == {width}


def _run_dir(path, n, spread_cycles, seed=1):
    """pulses.csv of n pulses on two channels, deviations up to spread_cycles, every 97th
    pulse not delivered and every 89th without a planned onset (trigger never came)."""
    rnd = random.Random(seed)
    planned = {0: [], 1: []}
    edges = []
    for k in range(n // 2):
        for ch in (0, 1):
            p = k * 125_000 + ch * 1000
            planned[ch].append(None if k % 89 == 88 else p)
            if k % 97 != 96:
                dev = rnd.choice([0, 1, -1]) if k % 5 else rnd.randint(0, spread_cycles)
                edges.append((ch, 1, p + dev))
    edges.sort(key=lambda e: e[2])
    rows = logs.match_pulses(planned, {0: 0, 1: 0}, 0, edges, CLK)
    logs.write_pulses(str(path / "pulses.csv"), rows, {0: "tms", 1: "tms2"})
    (path / "summary.json").write_text(json.dumps({"sysclk_hz": CLK}))
    return [r["deviation_ns"] for r in rows if r["deviation_ns"] is not None]


def test_scan_is_bounded_and_the_same_read_once_or_twice(tmp_path, monkeypatch):
    devs = _run_dir(tmp_path, 40_000, 250_000_000)  # 2 s spread
    kept = plot.scan_pulses(str(tmp_path))
    monkeypatch.setattr(plot, "CHUNK", 1000)
    monkeypatch.setattr(plot, "KEEP_ROWS", 2500)  # pass 2 reads the file again
    reread = plot.scan_pulses(str(tmp_path))
    for scan in (kept, reread):
        assert scan["names"] == ["tms", "tms2"]
        assert scan["n_dev"] == len(devs) == int(scan["counts"].sum())
        assert len(scan["edges"]) - 1 <= plot.MAX_BINS and scan["width"] > 1
        lo, hi = min(devs), max(devs)
        ref = np.histogram([float(d) for d in devs], bins=scan["edges"])[0]
        assert (scan["counts"] == ref).all()
        assert scan["edges"] == plot.histogram_edges(float(lo), float(hi), CYCLE_NS)[0]
        for ticks in scan["ticks"]:
            assert all(len(t.times()) <= plot.COLUMNS for t in ticks)
    assert kept["edges"] == reread["edges"] and (kept["counts"] == reread["counts"]).all()
    for a, b in zip(kept["cells"], reread["cells"]):
        assert np.array_equal(a[0], b[0], equal_nan=True)
    timing, hist = plot.write_plots(str(tmp_path))
    for path in (timing, hist):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_any_planned_onset_still_plots(tmp_path):
    rows = logs.match_pulses({0: [None, None]}, {0: 0}, 0, [(0, 1, 0)], CLK)
    logs.write_pulses(str(tmp_path / "pulses.csv"), rows, {0: "tms"})
    assert (tmp_path / "pulses.csv").read_text().splitlines()[1:] == [
        "tms,0,n/a,0.000000000,n/a,n/a,n/a,n/a",
        "tms,1,n/a,n/a,n/a,n/a,n/a,n/a",
    ]
    scan = plot.scan_pulses(str(tmp_path))
    assert (scan["n_dev"], scan["edges"], scan["zoom"]) == (0, [], (-0.002, 0.004))
    plot.write_plots(str(tmp_path))
