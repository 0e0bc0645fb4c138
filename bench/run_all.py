"""Run every benchmark in turn (`make bench`): bench_pio, bench_firmware, bench_link, bench_noise,
bench_session, bench_load, bench_throughput (bench_pico_model.py needs rp2040py: run it by hand).

Each prints one JSON line; this script prints it prefixed with the benchmark's name and exits
non-zero if any benchmark fails (non-zero exit or no JSON line). Results are recorded by hand in
docs/performance.md with the command that produced them.

Run:  .venv/bin/python bench/run_all.py
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHES = (
    "bench_pio.py",
    "bench_firmware.py",
    "bench_link.py",
    "bench_noise.py",
    "bench_session.py",
    "bench_load.py",
    "bench_throughput.py",
)


def json_line(stdout):
    """The last stdout line that parses as a JSON object, or None."""
    for line in reversed(stdout.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def run_one(name):
    """(ok, message) for one benchmark; its stderr passes through."""
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, name)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(HERE),
    )
    result = json_line(proc.stdout)
    if proc.returncode != 0:
        return False, "%s: FAILED (exit %d)" % (name, proc.returncode)
    if result is None:
        return False, "%s: FAILED (no JSON result line)" % name
    return True, "%s: %s" % (name, json.dumps(result, sort_keys=True))


def main():
    failed = []
    for name in BENCHES:
        ok, message = run_one(name)
        print(message, flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
