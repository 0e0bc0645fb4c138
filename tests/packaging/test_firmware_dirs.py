"""tmspio.firmware is the one place that finds the firmware and board files; the emulator and
deploy take the paths from it, and $TMSPIO_FIRMWARE_DIR reaches all of them."""

import json
import os
import re
import subprocess
import sys

import pytest
from tmspio import deploy, firmware
from tmspio.emulator import runner, serial_board

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_checkout_is_found_without_an_installed_copy():
    # this test session runs from the editable install: no tmspio/device/ in the checkout
    assert not os.path.exists(firmware.INSTALLED_DIR)
    assert firmware.locate({}) == (
        os.path.join(ROOT, "firmware"),
        os.path.join(ROOT, "boards"),
        "checkout",
    )


def test_an_installed_copy_wins_over_the_checkout(tmp_path, monkeypatch):
    device = tmp_path / "device"
    (device / "firmware").mkdir(parents=True)
    (device / "firmware" / "main.py").write_text("")
    (device / "boards").mkdir()
    monkeypatch.setattr(firmware, "INSTALLED_DIR", str(device))
    assert firmware.locate({}) == (
        str(device / "firmware"),
        str(device / "boards"),
        "package",
    )


@pytest.mark.parametrize("beside", [True, False])
def test_the_environment_variable_wins(tmp_path, beside):
    fw = tmp_path / "myfw"
    fw.mkdir()
    if beside:
        (tmp_path / "boards").mkdir()
    fw_dir, boards_dir, source = firmware.locate({firmware.ENV_VAR: str(fw)})
    assert (fw_dir, source) == (str(fw), firmware.ENV_VAR)
    # the boards folder beside it if there is one, else the shipped board files
    assert boards_dir == (str(tmp_path / "boards") if beside else os.path.join(ROOT, "boards"))


def test_emulator_and_deploy_take_their_paths_from_tmspio_firmware():
    assert runner.FIRMWARE_DIR == firmware.FIRMWARE_DIR
    assert serial_board.BOARDS_DIR == firmware.BOARDS_DIR
    assert deploy.firmware is firmware


def test_the_runner_honours_the_environment_variable(tmp_path):
    (tmp_path / "fw").mkdir()
    for name in ("wire.py", "progformat.py"):  # serial_board loads wire at import
        with open(os.path.join(ROOT, "firmware", name), "rb") as f:
            (tmp_path / "fw" / name).write_bytes(f.read())
    code = (
        "import json\n"
        "from tmspio import firmware\n"
        "from tmspio.emulator import runner, serial_board\n"
        "print(json.dumps([firmware.FIRMWARE_DIR, runner.FIRMWARE_DIR, serial_board.BOARDS_DIR,"
        " runner.environment()['MICROPYPATH']]))\n"
    )
    env = dict(os.environ, TMSPIO_FIRMWARE_DIR=str(tmp_path / "fw"))
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    fw, runner_fw, boards, path = json.loads(r.stdout)
    assert fw == runner_fw == str(tmp_path / "fw")
    assert boards == os.path.join(ROOT, "boards")  # no boards/ beside it
    assert path.split(os.pathsep)[1] == str(tmp_path / "fw")


def test_a_missing_firmware_file_is_named(tmp_path):
    env = dict(os.environ, TMSPIO_FIRMWARE_DIR=str(tmp_path / "nowhere"))
    r = subprocess.run(
        [sys.executable, "-c", "from tmspio import link"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("tmspio.firmware.FirmwareMissing: tmspio: firmware file ")
    assert re.search(re.escape(str(tmp_path / "nowhere")) + r"/\w+\.py not found", last), last


def test_a_shared_module_gets_its_firmware_imports_and_no_bare_name_leaks():
    code = (
        "import sys\n"
        "from tmspio import firmware\n"
        "limits = firmware.load('limits')\n"
        "assert limits.plan is firmware.load('plan')\n"
        "assert limits.FirmwareError is firmware.load('fwerror').FirmwareError\n"
        "assert firmware.load('plan').T is firmware.load('timing')\n"
        "print(sorted(k for k in ('timing', 'plan', 'progformat', 'fwerror', 'limits')"
        " if k in sys.modules))\n"
        "print(sorted(k[11:] for k in sys.modules if k.startswith('tmspio._fw.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n['fwerror', 'limits', 'plan', 'progformat', 'timing']\n"
