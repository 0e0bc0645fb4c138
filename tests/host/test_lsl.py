"""Session(lsl=True): a real pylsl inlet (liblsl from pylsl's wheel) reads one marker per pulse
back, stamped on LSL's clock with the pulse's captured onset mapped through the clock sync."""

import time

import pytest
import tmspio

pylsl = pytest.importorskip("pylsl", reason="the lsl extra (pip install 'tmspio[lsl]')")


def test_each_fired_pulse_is_one_marker_sample_on_the_lsl_clock(tmp_path):
    s = tmspio.Session(
        None, emulator=True, intensity=100, family="rtms", lsl=True, out=str(tmp_path)
    )
    with s:
        s.open()
        found = pylsl.resolve_byprop("name", "tmspio fire", timeout=10)
        assert [(i.type(), i.channel_count(), i.channel_format()) for i in found] == [
            ("Markers", 3, pylsl.cf_string)
        ]
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=10)
        time.sleep(0.5)  # the inlet's connection is up before the first sample
        for trial in ("a", "b"):
            s.wait_pulse(s.fire("tms", trial=trial))
            time.sleep(1.2)
        got = [inlet.pull_sample(timeout=5) for _ in range(2)]
        offset = s._outlet.offset
    assert [sample for sample, stamp in got] == [["0", "tms", "a"], ["0", "tms", "b"]]
    for (_sample, stamp), rec in zip(got, s.pulses):
        assert stamp == pytest.approx(rec.captured_host_s + offset, abs=1e-6)
    # LSL's clock and perf_counter are the same host clock here: the offset is a constant
    assert abs(offset - (pylsl.local_clock() - time.perf_counter())) < 1e-3
