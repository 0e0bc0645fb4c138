"""Data files shipped inside the package (host/tmspio/data/), read once per process."""

import json
from importlib import resources

_CACHE = {}


def path(name):
    """Filesystem path of a file or folder under host/tmspio/data/."""
    return str(resources.files("tmspio").joinpath("data", name))


def load_json(name):
    """The parsed JSON of data/<name>; the same object on every call (treat it as read-only)."""
    if name not in _CACHE:
        text = resources.files("tmspio").joinpath("data", name).read_text("utf-8")
        _CACHE[name] = json.loads(text)
    return _CACHE[name]
