"""Helpers for the firmware tests: the pure modules under CPython, scripts on the emulated board.

The firmware modules are imported straight from firmware/ (they are plain modules in the common
subset). Emulated-board scripts run on the MicroPython unix port through the emulator runner,
with tests/support/emu on the import path for the harness (pytest's pythonpath has firmware/
and tests/support/emu for the in-process side).
"""

import json
import os
import subprocess

from tmspio.emulator import runner

HERE = os.path.dirname(os.path.abspath(__file__))
EMU_DIR = os.path.join(HERE, "emu")
REPO = os.path.dirname(os.path.dirname(HERE))
FIRMWARE = os.path.join(REPO, "firmware")
BOARDS = os.path.join(REPO, "boards")


def board_cfg(name="emulated"):
    with open(os.path.join(BOARDS, name + ".json")) as f:
        return json.load(f)


def run_micropython(source, timeout=60, cwd=None, prefix=""):
    """Run `source` on a fresh emulated board (MicroPython unix port); return stdout lines."""
    path = os.path.join(cwd or "/tmp", "tmspio_fw_test_%d.py" % os.getpid())
    with open(path, "w") as f:
        f.write(source)
    env = runner.environment()
    env["MICROPYPATH"] = env["MICROPYPATH"] + os.pathsep + EMU_DIR
    proc = subprocess.run(
        runner.command(path), env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    os.unlink(path)
    if proc.returncode != 0:
        raise AssertionError("board script failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc.stdout.splitlines()


def run_engine(prog_bytes, body, cfg="emulated", timeout=60, single_step=False):
    """Run a harness script: `body` uses `h` (Harness) after the program is loaded."""
    cfgd = board_cfg(cfg) if isinstance(cfg, str) else cfg
    src = (
        "import json, time, binascii\n"
        "from fwharness import Harness\n"
        "cfg = json.loads(%r)\n"
        "h = Harness(cfg, %r)\n"
        "data = binascii.unhexlify(%r)\n"
        "h.engine.load(data)\n" % (json.dumps(cfgd), single_step, prog_bytes.hex())
    ) + body
    return parse(run_micropython(src, timeout))


def parse(lines):
    """Collect the harness output: RESULT dict + "edges" (lists) + "traces" {pin: [(c, l)]}."""
    edges = []
    traces = {}
    for line in lines:
        if line.startswith("EDGES "):
            edges += [tuple(e) for e in json.loads(line[6:])]
        elif line.startswith("TRACE "):
            _, pin, rest = line.split(" ", 2)
            traces.setdefault(int(pin), []).extend(tuple(e) for e in json.loads(rest))
        elif line.startswith("RESULT "):
            out = json.loads(line[7:])
            out["edges"] = edges
            out["traces"] = traces
            return out
    raise AssertionError("no RESULT line in:\n" + "\n".join(lines[-20:]))
