"""make test-rp2: the unchanged firmware on the real MicroPython rp2 port (a Pico .uf2 booted in
rp2040py), driven by the unchanged host through a pty. TMSPIO_RP2_IMAGE names the image; without
it every test here is skipped with that reason (the tier's only skip). docs/emulator.md,
"The real port"."""

import json
import os

import pytest
from rp2checks import SLOW_HZ
from tmspio.emulator import rp2port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PICO = os.path.join(REPO, "boards", "pico.json")


def pytest_collection_modifyitems(config, items):
    """No image: every test here is skipped, saying why (the tier's only skip). An image
    without rp2040py is a broken setup and fails in the `image` fixture instead."""
    if rp2port.image_from_env() is not None:
        return
    why = (
        f"{rp2port.IMAGE_ENV} is not set: no MicroPython .uf2 for the Pico to boot (make test-rp2)"
    )
    for item in items:
        if item.fspath.dirname == HERE:
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def image():
    missing = rp2port.available()
    if missing:
        raise rp2port.RealPortError(missing)
    return rp2port.image_from_env()


@pytest.fixture(scope="module")
def board(image):
    """One Pico (boards/pico.json) for the module: booting takes ~20-60 s of wall time."""
    with rp2port.RealPortBoard(image, PICO) as b:
        yield b


@pytest.fixture(scope="module")
def board24(image, tmp_path_factory):
    """The same Pico with the board file's clock at 24 MHz (main.py sets machine.freq from it):
    rp2040py steps a state machine one cycle at a time, so a second of 10 Hz pulses costs
    5.2 times fewer steps than at 125 MHz."""
    with open(PICO) as f:
        cfg = json.load(f)
    cfg["sysclk_hz"] = SLOW_HZ
    path = tmp_path_factory.mktemp("board24") / "pico.json"
    path.write_text(json.dumps(cfg))
    with rp2port.RealPortBoard(image, str(path)) as b:
        yield b
