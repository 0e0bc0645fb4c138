"""Build hook only: pyproject.toml holds the metadata.

The board's firmware (firmware/*.py) and the board files (boards/*.json, boards/README.md) live
at the top of the checkout, where `tmspio deploy` and the tests find them. A wheel has no top
level, so build_py copies them into the package as tmspio/device/firmware/ and
tmspio/device/boards/ (tmspio/firmware.py looks there first). MANIFEST.in puts both folders in
the sdist, so a wheel built from the sdist is the same. An editable install copies nothing: the
host then reads the checkout's own folders.
"""

import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# (source folder in the checkout, file patterns, destination inside the tmspio package)
DEVICE_FILES = (
    ("firmware", ("*.py",), ("tmspio", "device", "firmware")),
    ("boards", ("*.json", "README.md"), ("tmspio", "device", "boards")),
)


def device_files():
    """[(source path, path inside the package tree)] of every firmware and board file."""
    files = []
    for folder, patterns, dest in DEVICE_FILES:
        found = sorted({p for pat in patterns for p in glob.glob(os.path.join(HERE, folder, pat))})
        if not found:
            raise SystemExit(f"setup.py: no {' or '.join(patterns)} in {folder}/")
        files.extend((src, os.path.join(*dest, os.path.basename(src))) for src in found)
    return files


class build_py(_build_py):
    """build_py that also copies firmware/ and boards/ into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable: tmspio.firmware falls back to the checkout's folders
        for src, rel in device_files():
            dst = os.path.join(self.build_lib, rel)
            self.mkpath(os.path.dirname(dst))
            self.copy_file(src, dst, preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [os.path.join(self.build_lib, rel) for _, rel in device_files()]


setup(cmdclass={"build_py": build_py})
