"""The built-in protocol library: one TOML file per protocol in tmspio/data/protocols/."""

import os

from .. import packaged


def directory():
    return packaged.path("protocols")


def names():
    return sorted(f[:-5] for f in os.listdir(directory()) if f.endswith(".toml"))


def path_of(name):
    wanted = name.lower()
    for n in names():
        if n.lower() == wanted:
            return os.path.join(directory(), n + ".toml")
    return None
