"""A streamed `tmspio run` against the same program loaded whole, in the same run: an N-pulse
single-channel protocol with intervals drawn from 10..20 ms (seed 15), `tmspio run --emulator
--speed max --quiet` with `--stream always` and with `--stream never`, wall time from the
command's start to its exit (board start-up, load or stream, the run with capture, link,
logging and the two plots), and each run's summary (pulses delivered, max |deviation|, faults,
the stream's bytes). N <= 41,000 keeps the compiled program (3 bytes a pulse in interval
blocks, plus about 100) under the emulated board's 125,000-byte limit, so both ways are
possible (docs/performance.md, "Streaming").

Run:  .venv/bin/python bench/bench_stream_run.py [--pulses N] [--repeat R]   one JSON line
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TOML = """\
name = "jit{n}"
title = "{n} pulses, intervals drawn from 10..20 ms"
family = "rtms"
pulse_width = "1 ms"
channels = [ {{ name = "tms", polarity = "active-high" }} ]
intensity = {{ percent = 50, reference = "RMT" }}

[timing]
inter_pulse_interval = {{ uniform = ["10 ms", "20 ms"], seed = 15 }}
pulses_in_burst = {n}
"""


def run(tmp, n, how, k):
    path = os.path.join(tmp, "jit%d.toml" % n)
    with open(path, "w") as f:
        f.write(TOML.format(n=n))
    out = os.path.join(tmp, "%s-%d" % (how, k))
    cmd = [sys.executable, "-m", "tmspio.cli", "run", path, "--emulator", "--speed", "max"]
    cmd += ["--quiet", "--override", "bench", "--stream", how, "--out", out]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (how, proc.returncode, proc.stderr[-500:]))
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    st = s.get("stream") or {}
    return {
        "wall_s": round(wall, 2),
        "delivered": s["pulses_delivered"],
        "max_abs_deviation_ns": s["max_abs_deviation_ns"],
        "faults": s["faults"],
        "stream_error": st.get("error"),
        "sent_bytes": st.get("sent_bytes"),
        "program_bytes": st.get("program_bytes"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pulses", type=int, default=6000)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    result = {"pulses": a.pulses, "loaded": [], "streamed": []}
    with tempfile.TemporaryDirectory(prefix="tmspio-bench-stream-") as tmp:
        for k in range(a.repeat):  # interleaved, so a change in the machine's load hits both
            result["loaded"].append(run(tmp, a.pulses, "never", k))
            result["streamed"].append(run(tmp, a.pulses, "always", k))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
