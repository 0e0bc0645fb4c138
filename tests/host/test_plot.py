"""tmspio plot: both PNGs from a run directory, with and without summary.json."""

import json

from tmspio import logs, plot


def _run_dir(tmp_path, with_summary):
    rows = logs.match_pulses(
        {0: [0, 125_000, 250_000]},
        {0: 0},
        0,
        [(0, 1, 0), (0, 1, 125_001), (0, 1, 250_000)],
        125_000_000,
    )
    logs.write_pulses(str(tmp_path / "pulses.csv"), rows, {0: "tms"})
    if with_summary:
        (tmp_path / "summary.json").write_text(json.dumps({"sysclk_hz": 125_000_000}))
    return str(tmp_path)


def test_plots_are_png_files(tmp_path):
    for with_summary in (True, False):
        d = tmp_path / str(with_summary)
        d.mkdir()
        timing, hist = plot.write_plots(_run_dir(d, with_summary))
        for path in (timing, hist):
            with open(path, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert plot._cycle_ns(str(tmp_path / "True")) == 8.0
    assert plot._cycle_ns(str(tmp_path / "False")) is None
