"""`tmspio deploy` onto a board without the firmware, then the handshake answers."""

import os

import pytest
from tmspio import boards, deploy, link

BOARD_ENV = "TMSPIO_HW_BOARD"  # board file to deploy onto the hardware target (default: pico)

pytestmark = pytest.mark.timeout(180)


def test_deploy_then_handshake(fresh_target):
    name = "emulated" if fresh_target.emulated else os.environ.get(BOARD_ENV, "pico")
    board = boards.load_board(name)
    lines = []
    files, info = deploy.deploy(fresh_target.port, boards.board_path(name), say=lines.append)
    assert info["board"] == name
    assert "board.json" in files and "main.py" in files
    assert lines[-1] == "firmware %s on board %s answered after reset" % (info["firmware"], name)
    with link.connect(fresh_target.port, hello_timeout=10) as conn:
        assert conn.info["board"] == name
        assert conn.info["sysclk_hz"] == board["sysclk_hz"]
    if fresh_target.emulated:
        flash = fresh_target.emulator.flash
        for fname, sha in files.items():
            assert deploy._sha256(os.path.join(flash, fname)) == sha
