"""docs/wiring.md §6 tells a lab how to decode condition codes from an EEG trigger channel; its
NumPy snippet is run here on the line a marker channel drives (the compiled plan of
tests/e2e/protocols/sici-trials.toml, sampled as an amplifier would at 5 kHz), for both
encodings: it must give back every trial's onset sample and code, exactly."""

import os
import re

import numpy as np
import pytest
from tmspio import compiler
from tmspio.protocols import parser

HERE = os.path.dirname(__file__)
WIRING = os.path.join(HERE, "..", "..", "docs", "wiring.md")
SICI = os.path.join(HERE, "..", "e2e", "protocols", "sici-trials.toml")
SYSCLK = 125_000_000
FS = 5000  # the amplifier's sampling rate: the 1 ms code pulses are 5 samples
LEAD = FS  # the recording starts 1 s before the first trial (the line low)


def snippet():
    text = open(WIRING, encoding="utf-8").read()
    section = text[text.index("## 6.") :]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return "\n".join(line[2:] if line.startswith("  ") else line for line in code.split("\n"))


def protocol(tmp_path, code):
    src = open(SICI, encoding="utf-8").read()
    old = 'code = { encoding = "count", width = "1 ms", interval = "4 ms" }'
    assert src.count(old) == 1
    path = tmp_path / "codes.toml"
    path.write_text(src.replace(old, code))
    return compiler.compile_protocol(parser.resolve(str(path)), SYSCLK)


def sampled_line(c):
    """The marker channel's line as 0/1 samples at FS (sample LEAD + k covers [k/FS, (k+1)/FS)
    after the first trial's onset): high from the first sample at or after a rising edge."""
    ci = [ch.role for ch in c.protocol.channels].index("marker")
    n = LEAD + (c.channel_cycles[ci][-1] + c.channel_widths[ci][-1]) * FS // SYSCLK + FS
    trig = np.zeros(n, dtype=bool)
    for onset, width in zip(c.channel_cycles[ci], c.channel_widths[ci]):
        trig[LEAD - (-onset * FS // SYSCLK) : LEAD - (-(onset + width) * FS // SYSCLK)] = True
    return trig


def expected(c):
    markers = {cond.name: cond.marker for cond in c.conditions}
    onsets = [LEAD - (-compiler.nearest_cycle(t.onset, SYSCLK) * FS // SYSCLK) for t in c.trials]
    return onsets, [markers[t.condition] for t in c.trials]


def test_the_count_decoder_gives_every_trials_onset_and_code(tmp_path):
    c = protocol(tmp_path, 'code = { encoding = "count", width = "1 ms", interval = "4 ms" }')
    trig = sampled_line(c)
    names = {"np": np, "trig": trig, "fs": FS, "interval_s": 0.004}
    exec(snippet(), names)  # noqa: S102 - the documented snippet itself
    onsets, codes = expected(c)
    assert codes == [2, 1, 3, 1, 2, 3]
    assert (list(names["onsets"]), list(names["codes"])) == (onsets, codes)


@pytest.mark.parametrize("unit", ["1 ms", "0.5 ms"])
def test_the_width_decoder_gives_every_trials_code(tmp_path, unit):
    c = protocol(tmp_path, 'code = { encoding = "width", unit = "%s" }' % unit)
    trig = sampled_line(c)
    # the snippet's width line, uncommented as the doc says to use it
    code = snippet().replace("# width encoding: codes", "codes")
    names = {
        "np": np,
        "trig": trig,
        "fs": FS,
        "interval_s": 0.004,
        "unit_s": float(unit[:-3]) / 1000,
    }
    exec(code, names)  # noqa: S102
    onsets, codes = expected(c)
    assert list(names["codes"]) == codes
    assert list(names["rises"]) == onsets
