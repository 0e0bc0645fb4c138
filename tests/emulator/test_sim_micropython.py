"""The hardware model runs unchanged on the MicroPython unix port and gives exactly the
CPython results (sim_parity.py scenarios, fast and single-step)."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MPY_DIR = os.path.join(ROOT, "host", "tmspio", "emulator", "mpy")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def run(interpreter, env):
    proc = subprocess.run(
        [interpreter, os.path.join(HERE, "sim_parity.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_micropython_results_equal_cpython_results():
    mpy = run(MICROPYTHON, dict(os.environ, MICROPYPATH=MPY_DIR))
    cpy = run(sys.executable, dict(os.environ, PYTHONPATH=os.path.join(ROOT, "host")))
    assert mpy == cpy
    for name in ("blink_fractional", "capture", "dma_echo", "irq_handshake", "watchdog"):
        assert cpy[name] == cpy[name + "_single"], name
    assert cpy["dma_echo"]["dst"] == [0x11111111 * (i + 1) for i in range(9)]
    assert cpy["watchdog"]["caught"] == ["watchdog", 500]
    assert cpy["itbs_short"]["edges"] == 1 + 2 * 60
    assert cpy["itbs_short"]["first"] == [[0, 0], [3, 1], [125003, 0]]
    assert cpy["irq_handshake"]["t1"] == [[0, 0], [3, 1]]
    assert cpy["irq_handshake"]["t0"] == [[0, 0], [4, 1]]
