"""Fixtures' helpers: a flash directory with the real command loop and the fake engine."""

import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
FIRMWARE = os.path.join(HERE, "..", "..", "firmware")  # the checkout's, as the tests run

# limits as boards/pico.json: every board reports all six, and the host checks them (hello)
FAKE_BOARD = {
    "name": "fake",
    "chip": "rp2040",
    "sysclk_hz": 125_000_000,
    "limits": {
        "min_width_us": 10,
        "max_width_us": 10000,
        "min_interval_us": 1000,
        "max_pulses": 100000,
        "max_rate_hz": 100,
        "max_rate_window_s": 10,
    },
    "heartbeat_ms": 1000,
}


def fake_flash(path, speed=200):
    os.makedirs(path, exist_ok=True)
    for name in ("wire.py", "service.py", "progformat.py", "fwerror.py"):
        shutil.copyfile(os.path.join(FIRMWARE, name), os.path.join(path, name))
    for name in ("main.py", "fakeengine.py"):
        shutil.copyfile(os.path.join(HERE, "fakefw", name), os.path.join(path, name))
    with open(os.path.join(path, "board.json"), "w") as f:
        json.dump(dict(FAKE_BOARD, fake_speed=speed), f)
    return path
