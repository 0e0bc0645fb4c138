"""End-to-end throughput of an emulated session at --speed max: `tmspio run --emulator` of an
N-pulse program (100 Hz, 1 ms pulses: the emulated board's rate limit), wall time from the
command's start to its exit (board start-up, load, the run with capture, link, logging and the
two plots), against a baseline checkout in the same run (docs/performance.md, "Throughput").

The baseline is `git archive REV` into a temporary directory, run with PYTHONPATH=its host/ and
TMSPIO_FIRMWARE_DIR=its firmware/ by the same interpreter. Both run as installed: bytecode
caching allowed (PYTHONDONTWRITEBYTECODE is dropped), after one untimed 10-pulse run each.

With --repeat R the two are run R times, alternately (this, base, this, base, ...), so that a
shared machine's load falls on both alike; the JSON gives every run and the median. cpu_s is
the CPU time of the command and everything it started (host and the board's interpreter).

Run:  .venv/bin/python bench/bench_throughput.py [--pulses N] [--baseline REV] [--repeat R]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = "928b2b0"

TOML = """\
name = "p{n}"
title = "{n} pulses of 1 ms every 10 ms"
family = "rtms"
pulse_width = "1 ms"
channels = [ {{ name = "tms", polarity = "active-high" }} ]
intensity = {{ percent = 50, reference = "RMT" }}

[timing]
inter_pulse_interval = "10 ms"
pulses_in_burst = {n}
"""


def baseline_env(tmp, rev, env):
    """`git archive rev` unpacked in tmp/base; env running it: PYTHONPATH=its host/,
    TMSPIO_FIRMWARE_DIR=its firmware/."""
    base = os.path.join(tmp, "base")
    os.makedirs(base)
    archive = subprocess.run(
        ["git", "-C", REPO, "archive", rev], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", base], input=archive, check=True)
    return dict(
        env,
        PYTHONPATH=os.path.join(base, "host"),
        TMSPIO_FIRMWARE_DIR=os.path.join(base, "firmware"),
    )


def run(tmp, name, n, env):
    path = os.path.join(tmp, "p%d.toml" % n)
    with open(path, "w") as f:
        f.write(TOML.format(n=n))
    out = os.path.join(tmp, "run-" + name)
    if os.path.exists(out):
        subprocess.run(["rm", "-rf", out], check=True)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tmspio.cli",
            "run",
            path,
            "--emulator",
            "--speed",
            "max",
            "--quiet",
            "--out",
            out,
            "--override",
            "bench: no stimulator",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    res = {
        "wall_s": round(wall, 2),
        "pulses_per_s": round(n / wall, 1),
        "cpu_s": round(cpu, 2),
        "rc": proc.returncode,
    }
    try:
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)
        res["delivered"] = s["pulses_delivered"]
        res["max_abs_deviation_ns"] = s["max_abs_deviation_ns"]
    except (OSError, ValueError, KeyError):
        res["stderr"] = proc.stderr[-500:]
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pulses", type=int, default=3000)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    result = {"pulses": args.pulses, "baseline": args.baseline}
    with tempfile.TemporaryDirectory() as tmp:
        # as installed: Python may cache bytecode (pip compiles a wheel's modules at install;
        # PYTHONDONTWRITEBYTECODE would make every run compile the host package anew), and
        # one untimed 10-pulse run of each checkout writes those caches first
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env_base = baseline_env(tmp, args.baseline, env)
        run(tmp, "warm-this", 10, env)
        run(tmp, "warm-base", 10, env_base)
        runs = {"this": [], "base": []}
        for _ in range(args.repeat):
            runs["this"].append(run(tmp, "this", args.pulses, env))
            runs["base"].append(run(tmp, "base", args.pulses, env_base))
    for name in ("this", "base"):
        if args.repeat == 1:
            result[name] = runs[name][0]
            continue
        wall = statistics.median(r["wall_s"] for r in runs[name])
        result[name] = {
            "median_wall_s": wall,
            "median_pulses_per_s": round(args.pulses / wall, 1),
            "median_cpu_s": statistics.median(r["cpu_s"] for r in runs[name]),
            "runs": runs[name],
        }
    key = "wall_s" if args.repeat == 1 else "median_wall_s"
    result["ratio"] = round(result["base"][key] / result["this"][key], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
