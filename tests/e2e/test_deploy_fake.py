"""tmspio deploy against the emulated serial board with the real mpremote: compile, upload,
verify by hash, soft-reset, handshake. The firmware deployed is the fake-engine flavour so the
mechanics are tested independently of the engine (test_firmware_e2e.py deploys the real one)."""

import json
import os

import pytest
from fakeflash import FAKE_BOARD, fake_flash
from tmspio import deploy, link
from tmspio.emulator.serial_board import SerialBoard

pytestmark = pytest.mark.timeout(120)


def test_deploy_round_trip(tmp_path):
    fw = tmp_path / "fw"
    fake_flash(str(fw))
    os.remove(fw / "board.json")
    board_file = tmp_path / "fake.json"
    board_file.write_text(json.dumps(dict(FAKE_BOARD, name="fake-deployed")))
    flash = tmp_path / "flash"
    fake_flash(str(flash))  # a board with older firmware sources on it
    (flash / "service.py").write_text("raise SystemExit('stale service.py must be removed')\n")
    lines = []
    with SerialBoard(flash=str(flash), standins=False) as b:
        files, info = deploy.deploy(
            b.path, str(board_file), firmware_dir=str(fw), say=lines.append
        )
        assert info["board"] == "fake-deployed"
        assert sorted(files) == [
            "board.json",
            "fakeengine.mpy",
            "fwerror.mpy",
            "main.py",
            "progformat.mpy",
            "service.mpy",
            "wire.mpy",
        ]
        on_flash = sorted(os.listdir(flash))
        assert "service.py" not in on_flash and "service.mpy" in on_flash
        for name, sha in files.items():
            assert deploy._sha256(str(flash / name)) == sha
        assert (flash / "fakeengine.mpy").read_bytes()[:2] == b"M\x06"
        with link.connect(b.path, hello_timeout=10) as again:
            assert again.info["board"] == "fake-deployed"
    # the stale service.py crashed main.py at boot (a bad firmware): the board sat at the REPL,
    # nothing answered the maintenance request, and deploy went on with mpremote
    assert lines[0] == f"board on {b.path}: mpy arch x64"
    assert lines[-1] == "firmware 0.3.0 on board fake-deployed answered after reset"


def test_deploy_reports_a_hash_mismatch(tmp_path):
    flash = tmp_path / "flash"
    fake_flash(str(flash))
    with SerialBoard(flash=str(flash), standins=False) as b:
        assert deploy.open_repl(b.path) is True  # the firmware runs: ask it for the REPL
        files = {"main.py": "0" * 64}
        with pytest.raises(deploy.DeployError, match=f"hash check on {b.path} failed for main.py"):
            deploy.verify(b.path, files)


def test_mpremote_silence_names_the_likely_cause(monkeypatch):
    import subprocess

    def silent(argv, **kw):
        raise subprocess.TimeoutExpired(argv, kw["timeout"])

    monkeypatch.setattr(deploy.subprocess, "run", silent)
    with pytest.raises(deploy.DeployError) as e:
        deploy.mpremote("/dev/ttyX", "exec", "import sys", timeout=7)
    assert str(e.value) == (
        "mpremote exec import sys on /dev/ttyX: no answer within 7 s; if the "
        "tmspio firmware runs on it (it takes Ctrl-C as data), `tmspio "
        "maintenance` hands the port to the REPL once no run is going; "
        "otherwise reset the board"
    )
