"""Put the firmware on a board with mpremote: compile, upload, verify by hash, soft-reset, hello.

What lands on the board's filesystem:
    main.py        as source (the port runs main.py, not main.mpy, after reset)
    <module>.mpy   every other firmware/*.py compiled by mpy-cross for the board's architecture
                   (read from sys.implementation._mpy, so @micropython.native code fits)
    board.json     the board file (boards/<name>.json), read by main.py at boot
A stale <module>.py next to a new <module>.mpy would shadow it, so it is removed.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import firmware
from .errors import DeviceError, InputError

# sys.implementation._mpy >> 10 -> mpy-cross -march name (MicroPython py/persistentcode.h)
ARCHS = {
    1: "x86",
    2: "x64",
    3: "armv6",
    4: "armv6m",
    5: "armv7m",
    6: "armv7em",
    7: "armv7emsp",
    8: "armv7emdp",
    9: "xtensa",
    10: "xtensawin",
    11: "rv32imc",
    12: "rv64imc",
}
BOOT_SCRIPT = "main.py"
BOARD_FILE = "board.json"
MPREMOTE_TIMEOUT_S = 60


class DeployError(DeviceError):
    """Upload, verification or the post-reset handshake failed."""


def _exe(name):
    local = os.path.join(os.path.dirname(sys.executable), name)
    return local if os.path.exists(local) else name


def mpremote(port, *args, timeout=MPREMOTE_TIMEOUT_S):
    """Run `mpremote connect PORT ARGS...`; returns stdout; errors name the command."""
    argv = [_exe("mpremote"), "connect", port, *args]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise DeployError("mpremote not found; run `make install`") from None
    except subprocess.TimeoutExpired:
        # the tmspio firmware takes every byte as data while a program is armed or running
        raise DeployError(
            f"mpremote {' '.join(args[:2])} on {port}: no answer within "
            f"{timeout} s; if the tmspio firmware runs on it (it takes Ctrl-C as "
            "data), `tmspio maintenance` hands the port to the REPL once no run "
            "is going; otherwise reset the board"
        ) from None
    if r.returncode != 0:
        err = (r.stderr or r.stdout).strip().splitlines()
        raise DeployError(
            f"mpremote {' '.join(args[:2])} on {port} failed: "
            f"{err[-1] if err else 'exit %d' % r.returncode}"
        )
    return r.stdout


def board_arch(port):
    out = mpremote(port, "exec", "import sys; print(sys.implementation._mpy)").strip()
    try:
        code = int(out.splitlines()[-1]) >> 10
    except (ValueError, IndexError):
        raise DeployError(
            f"board on {port} did not report sys.implementation._mpy: {out!r}"
        ) from None
    return ARCHS.get(code)  # None: bytecode only (no native code in the firmware)


def build(firmware_dir, board_file, out_dir, arch):
    """Compile into out_dir; returns {name on the board: sha256 hex}."""
    files = {}
    for name in sorted(os.listdir(firmware_dir)):
        if not name.endswith(".py"):
            continue
        src = os.path.join(firmware_dir, name)
        if name == BOOT_SCRIPT:
            dst = os.path.join(out_dir, name)
            shutil.copyfile(src, dst)
        else:
            dst = os.path.join(out_dir, name[:-3] + ".mpy")
            argv = [_exe("mpy-cross"), "-o", dst, src]
            if arch:
                argv.insert(1, "-march=" + arch)
            r = subprocess.run(argv, capture_output=True, text=True)
            if r.returncode != 0:
                raise DeployError(f"mpy-cross {name}: {(r.stderr or r.stdout).strip()}")
        files[os.path.basename(dst)] = _sha256(dst)
    if BOOT_SCRIPT not in files:
        raise InputError(f"firmware dir {firmware_dir}: no {BOOT_SCRIPT}")
    shutil.copyfile(board_file, os.path.join(out_dir, BOARD_FILE))
    files[BOARD_FILE] = _sha256(board_file)
    return files


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


_HASH_SNIPPET = """\
import hashlib, binascii, os
names = %r
res = {}
for n in names:
    try:
        h = hashlib.sha256()
        with open(n, 'rb') as f:
            while True:
                b = f.read(1024)
                if not b:
                    break
                h.update(b)
        res[n] = binascii.hexlify(h.digest()).decode()
    except OSError:
        res[n] = None
stale = %r
for n in stale:
    try:
        os.remove(n)
    except OSError:
        pass
import json
print(json.dumps(res))
"""


def upload(port, build_dir, files):
    args = []
    for name in sorted(files):
        if args:
            args.append("+")
        args += ["fs", "cp", os.path.join(build_dir, name), ":" + name]
    mpremote(port, *args)


def verify(port, files):
    """Hash every uploaded file on the board; remove stale .py twins of uploaded .mpy files."""
    stale = [n[:-4] + ".py" for n in files if n.endswith(".mpy")]
    out = mpremote(port, "exec", _HASH_SNIPPET % (sorted(files), stale))
    try:
        got = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeployError(f"hash check on {port}: unreadable answer {out!r}") from None
    bad = [n for n in sorted(files) if got.get(n) != files[n]]
    if bad:
        raise DeployError(f"hash check on {port} failed for {', '.join(bad)}")
    return got


def reboot_and_hello(port, timeout=30):
    """Soft-reboot from the friendly REPL (so main.py runs, as after power-up) and handshake."""
    from . import link

    ser = link.open_port(port)
    try:
        ser.write(b"\r\x03\x03")  # interrupt whatever runs
        time.sleep(0.3)
        ser.write(b"\r\x02")  # leave the raw REPL if mpremote left us there
        time.sleep(0.3)
        ser.reset_input_buffer()
        ser.write(b"\x04")  # Ctrl-D at the friendly REPL: soft reboot, main.py runs
        time.sleep(0.2)
    finally:
        ser.close()
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with link.connect(port, hello_timeout=2) as b:
                return dict(b.info)
        except link.LinkError as e:
            last = e
            time.sleep(0.2)
    raise DeployError(f"no tmspio firmware answered on {port} after the reset: {last}")


def open_repl(port, scale=None):
    """Hand the port to MicroPython's REPL. The tmspio firmware takes every byte as data
    (Ctrl-C included), so it is asked with the framed maintenance request; it refuses while a
    program is armed or running. True: the firmware stopped (outputs idle); False: nothing
    answered as tmspio firmware (a board already at the REPL, or a blank one), and mpremote's
    own interrupt will do."""
    from . import link

    lk = link.Link(link.open_port(port), port, scale)
    try:
        lk.maintenance()
        return True
    except link.BoardRefused as e:
        if e.code == link.wire.E_ORDER:
            raise DeployError(
                f"the board on {port} is busy: {e.text}; wait for the run to "
                "end (or stop it) and retry"
            ) from None
        if e.code == link.wire.E_UNKNOWN:  # firmware 0.1 (wire 1): Ctrl-C at rest stops it
            lk.ser.write(b"\r\x03")
            time.sleep(0.3)
            return True
        raise DeployError(f"the firmware on {port} refused the maintenance request: {e}") from None
    except link.LinkError:
        return False
    finally:
        lk.close()


def deploy(port, board_file, firmware_dir=None, say=print, scale=None):
    firmware_dir = firmware_dir or firmware.FIRMWARE_DIR
    if open_repl(port, scale):
        say(f"tmspio firmware on {port} stopped for maintenance (outputs idle)")
    arch = board_arch(port)
    say(f"board on {port}: mpy arch {arch or 'bytecode only'}")
    with tempfile.TemporaryDirectory(prefix="tmspio-deploy-") as tmp:
        files = build(firmware_dir, board_file, tmp, arch)
        say(f"compiled {len(files) - 2} modules with mpy-cross; uploading {len(files)} files")
        upload(port, tmp, files)
    verify(port, files)
    say(f"verified {len(files)} files by sha256")
    info = reboot_and_hello(port)
    say(f"firmware {info.get('firmware')} on board {info.get('board')} answered after reset")
    return files, info
