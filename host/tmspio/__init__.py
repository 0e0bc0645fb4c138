"""tmspio — cycle-exact TMS trigger trains from a Raspberry Pi Pico (PIO + MicroPython).

The script API (docs/api.md): `tmspio.Session`, `tmspio.PulseRecord`, `tmspio.Progress`, and
the errors `tmspio.InputError`, `tmspio.SafetyRefused`, `tmspio.DeviceError`,
`tmspio.BoardRefused`, `tmspio.Interrupted`. They are imported on first use, so `tmspio`'s
command line stays quick to start.
"""

__version__ = "0.3.0"

_LAZY = {
    "Session": "session",
    "PulseRecord": "session",
    "Progress": "session",
    "SessionError": "session",
    "InputError": "errors",
    "SafetyRefused": "errors",
    "DeviceError": "errors",
    "Interrupted": "errors",
    "BoardRefused": "link",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"tmspio.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tmspio' has no attribute {name!r}")
