"""`pip install` works anywhere (issue 13): the wheel and the sdist, each installed into a fresh
venv outside the checkout, run the emulated board, the self-test and a deploy from a folder that
has nothing to do with the checkout.

The build runs offline with the dev extra's pinned `build` and setuptools (--no-isolation), from
a copy of the working tree, so the checkout gets no build/, dist/ or egg-info. Installing pulls
tmspio's pinned dependencies through pip (its cache makes repeats quick); the sdist install also
gets the pinned setuptools for its isolated build.
"""

import glob
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest

pytestmark = pytest.mark.timeout(900)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "firmware", "*.py")))
BOARDS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "boards", "*.json"))) + [
    "README.md"
]
# what a wheel holds besides the host package (setup.py)
DEVICE = ["tmspio/device/firmware/" + n for n in FIRMWARE] + [
    "tmspio/device/boards/" + n for n in BOARDS
]
# working-tree entries a build must not see (or that are large and irrelevant)
IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "runs",
    "out",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    "*.pyc",
    "*.mpy",
)
STEPS = {}  # step -> seconds, printed at the end of the module (pytest -s, or -rA)


def _clean_env(**extra):
    """The user's environment without anything that leads back to the checkout: no venv
    activation, no PYTHONPATH, no TMSPIO_* override, no PATH entry inside the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
        and not k.startswith("TMSPIO_")
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not _inside(p, ROOT)]
    env["PATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def _run(argv, cwd, step=None, timeout=600, env=None):
    t0 = time.monotonic()
    r = subprocess.run(
        [str(a) for a in argv],
        cwd=str(cwd),
        env=env or _clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if step:
        STEPS[step] = round(time.monotonic() - t0, 1)
    return r


def _ok(r):
    assert r.returncode == 0, f"{r.args} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module", autouse=True)
def _report_times():
    t0 = time.monotonic()
    yield
    STEPS["module total"] = round(time.monotonic() - t0, 1)
    print("\npackaging steps (s): " + json.dumps(STEPS))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("packaging")
    assert not _inside(str(path), ROOT)
    return path


@pytest.fixture(scope="module")
def dists(base):
    """(wheel, sdist, wheel built straight from the tree): `python -m build` makes the sdist,
    then the wheel from that sdist; the second wheel checks the sdist lost nothing."""
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    out, direct = base / "dist", base / "direct"
    build = [sys.executable, "-m", "build", "--no-isolation"]
    _ok(_run(build + ["--outdir", out, src], base, "build sdist+wheel"))
    _ok(_run(build + ["--wheel", "--outdir", direct, src], base, "build wheel from tree"))
    wheels, sdists = glob.glob(str(out / "*.whl")), glob.glob(str(out / "*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, os.listdir(out)
    return wheels[0], sdists[0], glob.glob(str(direct / "*.whl"))[0]


def _venv(base, name, dist, step):
    """A fresh venv in base/name with `dist` installed (its dependencies from the index)."""
    venv = base / name
    _ok(_run([sys.executable, "-m", "venv", venv], base, f"{step}: venv"))
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-input"]
    _ok(_run(pip + [dist], base, f"{step}: pip install"))
    work = base / (name + "-work")  # the user's folder: nothing of tmspio in it
    work.mkdir()
    return venv, work


def _site_tmspio(venv):
    found = glob.glob(str(venv / "lib" / "python*" / "site-packages" / "tmspio"))
    assert len(found) == 1, found
    return found[0]


def _assert_uses_its_own_copy(venv, work):
    """The installed package reads its firmware and board files from inside itself."""
    code = (
        "import json, tmspio, tmspio.firmware as f\n"
        "from tmspio.emulator import runner, serial_board\n"
        "print(json.dumps([tmspio.__file__, f.FIRMWARE_DIR, f.BOARDS_DIR, f.SOURCE,"
        " runner.FIRMWARE_DIR, serial_board.BOARDS_DIR]))\n"
    )
    r = _ok(_run([venv / "bin" / "python", "-c", code], work))
    init, fw, boards, source, runner_fw, serial_boards = json.loads(r.stdout)
    site = _site_tmspio(venv)
    assert init == os.path.join(site, "__init__.py")
    assert (fw, boards, source) == (
        os.path.join(site, "device", "firmware"),
        os.path.join(site, "device", "boards"),
        "package",
    )
    assert (runner_fw, serial_boards) == (fw, boards)
    assert sorted(n for n in os.listdir(fw) if n.endswith(".py")) == FIRMWARE
    for name in FIRMWARE:
        assert _sha(os.path.join(fw, name)) == _sha(os.path.join(ROOT, "firmware", name))
    for name in BOARDS:
        assert _sha(os.path.join(boards, name)) == _sha(os.path.join(ROOT, "boards", name))


def test_wheel_and_sdist_carry_the_firmware_and_board_files(dists):
    wheel, sdist, direct = dists
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for name in DEVICE:
            folder = "firmware" if "/firmware/" in name else "boards"
            with open(os.path.join(ROOT, folder, os.path.basename(name)), "rb") as f:
                assert z.read(name) == f.read(), name
        built = {n: z.read(n) for n in names}
    assert sorted(n for n in names if n.startswith("tmspio/device/")) == sorted(DEVICE)
    # the wheel from the sdist and the one from the tree are the same, byte for byte
    with zipfile.ZipFile(direct) as z:
        assert {n: z.read(n) for n in z.namelist()} == built
    with tarfile.open(sdist) as t:
        top = os.path.basename(sdist)[: -len(".tar.gz")]
        members = {m.name[len(top) + 1 :] for m in t.getmembers() if m.isfile()}
    for name in ["setup.py", "MANIFEST.in", "pyproject.toml", "README.md"]:
        assert name in members
    assert {"firmware/" + n for n in FIRMWARE} <= members
    assert {"boards/" + n for n in BOARDS} <= members


def test_wheel_in_a_fresh_venv(base, dists):
    wheel = dists[0]
    venv, work = _venv(base, "venv-wheel", wheel, "wheel")
    tmspio = venv / "bin" / "tmspio"
    _assert_uses_its_own_copy(venv, work)

    r = _ok(_run([venv / "bin" / "python", "-c", "from tmspio import link"], work, "import"))
    assert (r.stdout, r.stderr) == ("", "")

    # the same text as from the checkout
    r = _ok(_run([tmspio, "show", "itbs"], work, "show itbs"))
    here = _ok(
        _run([sys.executable, "-m", "tmspio.cli", "show", "itbs"], work, env=dict(os.environ))
    )
    assert r.stdout == here.stdout
    assert r.stdout.startswith("itbs: iTBS: intermittent theta burst, 600 pulses\n")

    run = [tmspio, "run", "itbs", "--emulator", "--speed", "max", "--out", "itbs-run", "--quiet"]
    r = _ok(_run(run, work, "run itbs --emulator"))
    assert "itbs: 600 of 600 pulses delivered; max |deviation| 0 ns" in r.stdout
    with open(work / "itbs-run" / "summary.json", encoding="utf-8") as f:
        summary = json.load(f)
    assert (summary["pulses_planned"], summary["pulses_delivered"]) == (600, 600)
    assert (summary["aborted"], summary["max_abs_deviation_ns"]) == (False, 0)
    assert summary["pulses_confirmed"] == 600

    r = _ok(_run([tmspio, "selftest", "--emulator"], work, "selftest --emulator"))
    assert re.search(
        r"^selftest PASS: board emulated, firmware \S+, 125000000 Hz, 40/40 edges, ",
        r.stdout,
        re.M,
    ), r.stdout

    _deploy_to_an_emulated_board(venv, work)


def _deploy_to_an_emulated_board(venv, work):
    tmspio = venv / "bin" / "tmspio"
    emu = subprocess.Popen(
        [str(tmspio), "emulate", "--speed", "max"],
        cwd=str(work),
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([emu.stdout], [], [], 60)
        assert ready, "tmspio emulate printed no port within 60 s"
        port = emu.stdout.readline().strip()
        assert port.startswith("/dev/"), (port, emu.poll())
        banner = emu.stderr.readline()
        flash = re.search(r"\(flash (\S+),", banner).group(1)

        r = _ok(_run([tmspio, "deploy", "--port", port, "--board", "emulated"], work, "deploy"))
        lines = r.stdout.splitlines()
        n = len(FIRMWARE)
        assert lines[0] == f"tmspio firmware on {port} stopped for maintenance (outputs idle)"
        assert re.fullmatch(rf"board on {re.escape(port)}: mpy arch \S+", lines[1])
        assert lines[2:] == [
            f"compiled {n - 1} modules with mpy-cross; uploading {n + 1} files",
            f"verified {n + 1} files by sha256",
            f"firmware {_firmware_version()} on board emulated answered after reset",
        ]
        # what landed on the board is the firmware and board file shipped in the wheel
        assert _sha(os.path.join(flash, "main.py")) == _sha(
            os.path.join(ROOT, "firmware", "main.py")
        )
        with (
            open(os.path.join(flash, "board.json"), "rb") as a,
            open(os.path.join(ROOT, "boards", "emulated.json"), "rb") as b,
        ):
            assert a.read() == b.read()
    finally:
        emu.send_signal(signal.SIGTERM)
        try:
            rc = emu.wait(timeout=30)
        except subprocess.TimeoutExpired:
            emu.kill()
            rc = emu.wait()
        emu.stdout.close()
        emu.stderr.close()
    assert rc == 0


def _firmware_version():
    with open(os.path.join(ROOT, "firmware", "service.py"), encoding="utf-8") as f:
        return re.search(r'^FIRMWARE_VERSION = "([^"]+)"', f.read(), re.M).group(1)


def test_sdist_in_a_fresh_venv(base, dists):
    sdist = dists[1]
    venv, work = _venv(base, "venv-sdist", sdist, "sdist")
    _assert_uses_its_own_copy(venv, work)
    r = _ok(_run([venv / "bin" / "tmspio", "selftest", "--emulator"], work, "sdist selftest"))
    assert "selftest PASS: board emulated" in r.stdout
