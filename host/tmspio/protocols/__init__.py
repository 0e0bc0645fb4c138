"""Protocols: the file model, the parser and the built-in library."""

from .model import Channel, Intensity, Jitter, Protocol, Start, Timing
from .parser import from_dict, load_file, resolve

__all__ = [
    "Channel",
    "Intensity",
    "Jitter",
    "Protocol",
    "Start",
    "Timing",
    "from_dict",
    "load_file",
    "resolve",
]
