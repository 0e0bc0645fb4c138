"""Builders shared by the host protocol tests."""

import copy

from tmspio.protocols import from_dict

BASE = {
    "name": "t",
    "family": "rtms",
    "pulse_width": "1 ms",
    "channels": [{"name": "tms", "polarity": "active-high"}],
    "timing": {
        "inter_pulse_interval": "100 ms",
        "pulses_in_burst": 40,
        "inter_train_interval": "30 s",
        "trains_in_protocol": 3,
    },
}


def protocol(**changes):
    """BASE with top-level keys replaced; timing=dict(...) replaces the whole timing table."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return from_dict(data, "t.toml")


def tbs(ipi="20 ms", pulses=3, ibi="200 ms", bursts=10, iti="10 s", trains=20, **kw):
    timing = {
        "inter_pulse_interval": ipi,
        "pulses_in_burst": pulses,
        "inter_burst_interval": ibi,
        "bursts_in_train": bursts,
    }
    if trains > 1:
        timing.update(inter_train_interval=iti, trains_in_protocol=trains)
    return protocol(family="theta-burst", timing=timing, **kw)


# A gated protocol shared by the trigger-plan (host) and rig (e2e) tests: one 3-pulse 10 Hz
# train per accepted gate edge, three trains, a 1 s refractory.
GATED = """\
name = "gate"
title = "gated: one 3-pulse 10 Hz train per accepted gate edge"
family = "rtms"
pulse_width = "1 ms"
channels = [{ name = "a", polarity = "active-high" }]
intensity = { percent = 50, reference = "RMT" }
[start]
mode = "gated"
refractory = "1 s"
[timing]
inter_pulse_interval = "10 Hz"
pulses_in_burst = 3
trains_in_protocol = 3
"""
