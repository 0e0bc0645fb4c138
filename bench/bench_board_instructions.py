"""Instructions the emulated board's interpreter executes per pulse of a `tmspio run --emulator
--speed max` session, counted by valgrind's callgrind: a measure of the board's work that does
not move with a shared machine's load (its wall and CPU times vary by 25 % and more from one
minute to the next there; docs/performance.md).

The workload is bench_throughput.py's (1 ms pulses at 100 Hz, the default emulated board).
Each checkout runs N1 and N2 pulses (the two at once: one process each); per pulse =
(I(N2) - I(N1)) / (N2 - N1), which leaves out the board's start-up and load, and fixed = I(N1) -
N1 * per pulse. The baseline is `git archive REV` run with PYTHONPATH=its host/ and
TMSPIO_FIRMWARE_DIR=its firmware/, as in bench_throughput.py.

The board's interpreter is started under `valgrind --tool=callgrind` (through a wrapper around
tmspio.cli that points the emulator's runner at it) and told to dump its counts with
`callgrind_control -d` just before the session powers the board off. About 50 times slower than
a plain run: a few minutes in all. Needs valgrind (not a test dependency; Debian: apt install
valgrind).

Run:  .venv/bin/python bench/bench_board_instructions.py [--baseline REV] [--n1 300] [--n2 1300]
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_throughput import TOML, baseline_env  # noqa: E402  (the same workload)

# Run as `python -c WRAPPER VALGRIND_SCRIPT cli-args...` with the checkout's tmspio importable.
WRAPPER = """
import subprocess, sys
from tmspio.emulator import runner, serial_board
runner.micropython_exe = lambda: sys.argv[1]
close = serial_board.SerialBoard.close
def dump_then_close(self, *a, **k):
    if self.pid:
        subprocess.run(["callgrind_control", "-d", str(self.pid)], capture_output=True)
    return close(self, *a, **k)
serial_board.SerialBoard.close = dump_then_close
from tmspio import cli
sys.exit(cli.main(sys.argv[2:]))
"""


def micropython():
    from tmspio.emulator import runner

    return runner.micropython_exe()


def instructions(tmp, name, n, env):
    """Run n pulses under callgrind; returns (instructions, pulses delivered)."""
    work = os.path.join(tmp, "%s-%d" % (name, n))
    os.makedirs(work)
    script = os.path.join(work, "micropython-callgrind")
    with open(script, "w") as f:
        f.write(
            "#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/cg.%%p.out %s"
            ' "$@"\n' % (work, micropython())
        )
    os.chmod(script, 0o755)
    toml = os.path.join(work, "p.toml")
    with open(toml, "w") as f:
        f.write(TOML.format(n=n))
    out = os.path.join(work, "run")
    argv = [sys.executable, "-c", WRAPPER, script, "run", toml, "--emulator", "--speed", "max"]
    argv += ["--quiet", "--out", out, "--override", "bench: no stimulator"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), work


def collect(proc, work):
    _, err = proc.communicate(timeout=7200)
    dumps = glob.glob(os.path.join(work, "cg.*.out.1"))
    total = None
    for path in dumps:
        with open(path) as f:
            for line in f:
                if line.startswith("summary:"):
                    total = int(line.split()[1])
    delivered = None
    try:
        with open(os.path.join(work, "run", "summary.json")) as f:
            delivered = json.load(f)["pulses_delivered"]
    except (OSError, ValueError, KeyError):
        pass
    if total is None:
        raise SystemExit(
            "bench_board_instructions: no callgrind dump in %s: %s" % (work, err[-400:])
        )
    return total, delivered


def measure(tmp, name, env, n1, n2):
    a = instructions(tmp, name, n1, env)
    b = instructions(tmp, name, n2, env)
    (i1, d1), (i2, d2) = collect(*a), collect(*b)
    per = (i2 - i1) / (n2 - n1)
    return {
        "instructions": {str(n1): i1, str(n2): i2},
        "delivered": {str(n1): d1, str(n2): d2},
        "per_pulse": round(per),
        "fixed": round(i1 - n1 * per),
    }


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="78a4afa")
    ap.add_argument("--n1", type=int, default=300)
    ap.add_argument("--n2", type=int, default=1300)
    args = ap.parse_args(argv)
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(
                "bench_board_instructions: %s not found (apt install valgrind)" % tool
            )
    result = {"n1": args.n1, "n2": args.n2, "baseline": args.baseline}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env_base = baseline_env(tmp, args.baseline, env)
        result["this"] = measure(tmp, "this", env, args.n1, args.n2)
        result["base"] = measure(tmp, "base", env_base, args.n1, args.n2)
    result["ratio"] = round(result["this"]["per_pulse"] / result["base"]["per_pulse"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
