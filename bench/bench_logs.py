"""What writing the run directory costs the host at the end of a run without conditions:
pulses.csv, events.tsv/events.json and summary.json (logs.py), then the two plots (plot.py), for
an N-pulse one-channel run (10 ms apart, every third onset one cycle late), against a baseline
checkout in the same run. The runs alternate (baseline, this tree) `--repeat` times.

The baseline is `git archive REV host` into a temporary directory, imported with
PYTHONPATH=its host/ by the same interpreter; a baseline from before trials and conditions
(issue 11) gets the old write_bids(tsv, json, rows, names, width) call.

Run:  .venv/bin/python bench/bench_logs.py [--pulses N] [--baseline REV] [--repeat K]
Prints one JSON line per run (wall and CPU seconds of each part) and a last line with the
medians and their ratios (this tree / baseline).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = "2124c25"  # main before issue 11's logs
# wall time, and the process's CPU time (steadier on a shared machine)
FIELDS = ("logs_s", "plots_s", "logs_cpu_s", "plots_cpu_s")

CHILD = r"""
import inspect, json, os, sys, time
from fractions import Fraction
from tmspio import logs, plot
n, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)
CLK = 125_000_000
planned = {0: [k * 1_250_000 for k in range(n)]}
edges = [(0, 1, c + (k % 3 == 0)) for k, c in enumerate(planned[0])]
rows = logs.match_pulses(planned, {0: 0}, 0, edges, CLK)
new = "meta" in inspect.signature(logs.write_bids).parameters
if new:  # compiled before the clock starts: a session has it already
    from tmspio.compiler import compile_protocol
    from tmspio.protocols import from_dict
    from tmspio.safety.core import Declared
    c = compile_protocol(from_dict({"name": "p", "family": "rtms", "pulse_width": "1 ms",
        "channels": [{"name": "tms", "polarity": "active-high"}],
        "timing": {"inter_pulse_interval": "10 ms", "pulses_in_burst": n}}, "p.toml"), CLK)
t0, c0 = time.perf_counter(), time.process_time()
if new:
    meta = logs.protocol_meta(c, Declared(50, "RMT"), "generic-ttl")
    logs.annotate(rows, meta)
    logs.write_pulses(os.path.join(out, "pulses.csv"), rows, {0: "tms"})
    logs.write_bids(os.path.join(out, "events.tsv"), os.path.join(out, "events.json"), rows, meta)
    extra = {"sysclk_hz": CLK, **logs.summarize_plan(rows, meta)}
else:
    logs.write_pulses(os.path.join(out, "pulses.csv"), rows, {0: "tms"})
    logs.write_bids(os.path.join(out, "events.tsv"), os.path.join(out, "events.json"), rows,
                    {0: "tms"}, Fraction(1, 1000))
    extra = {"sysclk_hz": CLK}
logs.write_json(os.path.join(out, "summary.json"), logs.summarize(rows, False, None, extra))
t1, c1 = time.perf_counter(), time.process_time()
plot.write_plots(out)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"logs_s": round(t1 - t0, 3), "plots_s": round(t2 - t1, 3),
                  "logs_cpu_s": round(c1 - c0, 3), "plots_cpu_s": round(c2 - c1, 3)}))
"""


def measure(host, n, out):
    env = dict(os.environ, PYTHONPATH=host)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), out],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pulses", type=int, default=200_000)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "baseline")
        os.makedirs(base)
        archive = subprocess.run(
            ["git", "-C", REPO, "archive", args.baseline, "host"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", base], input=archive.stdout, check=True)
        got = {"baseline": [], "tree": []}
        for k in range(args.repeat):
            for name, host in (("baseline", os.path.join(base, "host")), ("tree", REPO + "/host")):
                r = measure(host, args.pulses, os.path.join(tmp, "%s-%d" % (name, k)))
                r.update(run=name, pulses=args.pulses)
                print(json.dumps(r), flush=True)
                got[name].append(r)
    med = {
        name: {f: statistics.median(r[f] for r in runs) for f in FIELDS}
        for name, runs in got.items()
    }
    print(
        json.dumps(
            {
                "pulses": args.pulses,
                "baseline": args.baseline,
                "median": med,
                "ratio": {f: round(med["tree"][f] / med["baseline"][f], 3) for f in FIELDS},
            }
        )
    )


if __name__ == "__main__":
    main()
