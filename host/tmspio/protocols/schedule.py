"""Expand a protocol into its exact onset times (Fraction seconds after the first pulse).

Nothing is rounded here: fixed intervals add exactly, and jittered intervals are drawn on a 1 ns
grid. Draws use only random.Random(seed).random(), whose sequence Python guarantees across
versions, so the same seed gives the same protocol everywhere; every drawn value is returned too.
With timing.inter_train_interval_from = "last-pulse" each train starts inter_train_interval after
the previous train's last onset (as some stimulators count it). Gated protocols start each train on a gate edge; their schedule is the densest case the board
accepts, one train per refractory interval.
"""

import random
from fractions import Fraction
from math import ceil, floor

from .model import Jitter

NS = 10**9


class Draw:
    """One drawn instance of a jittered interval."""

    def __init__(self, field, index, value):
        self.field = field
        self.index = index  # 0-based instance of that interval in time order
        self.value = value  # Fraction seconds

    def as_dict(self):
        return {
            "field": self.field,
            "index": self.index,
            "value_s": float(self.value),
            "value_ns": int(self.value * NS),
        }


class Schedule:
    def __init__(self, onsets, train_starts, draws):
        self.onsets = onsets  # [Fraction s], strictly increasing, onsets[0] == 0
        self.train_starts = train_starts  # indices into onsets where a train begins
        self.draws = draws  # [Draw]


def jitter_grid(jitter):
    """(lowest, highest) whole nanoseconds inside the jitter range."""
    return ceil(jitter.lowest * NS), floor(jitter.highest * NS)


def _source(field, interval, draws):
    if not isinstance(interval, Jitter):
        return lambda: interval
    rng = random.Random(interval.seed)
    lo, hi = jitter_grid(interval)
    span = hi - lo + 1
    count = [0]

    def draw():
        ns = lo + floor(Fraction(rng.random()) * span)
        value = Fraction(ns, NS)
        draws.append(Draw(field, count[0], value))
        count[0] += 1
        return value

    return draw


def expand(protocol):
    if protocol.onsets is not None:
        return Schedule([Fraction(t) for t in protocol.onsets], [0], [])
    t = protocol.timing
    draws = []
    ipi = _source("inter_pulse_interval", t.inter_pulse_interval, draws)
    ibi = _source("inter_burst_interval", t.inter_burst_interval, draws)
    from_last = protocol.start.mode != "gated" and t.inter_train_interval_from == "last-pulse"
    raw = t.inter_train_interval if from_last else protocol.train_interval()
    iti = _source("inter_train_interval", raw, draws)
    onsets, train_starts = [], []
    t_train = Fraction(0)
    for k in range(t.trains_in_protocol):
        if k:
            # last-pulse: the interval counts from the previous train's last onset
            t_train = (onsets[-1] if from_last else t_train) + iti()
        train_starts.append(len(onsets))
        t_burst = t_train
        for b in range(t.bursts_in_train):
            if b:
                t_burst += ibi()
            onset = t_burst
            for p in range(t.pulses_in_burst):
                if p:
                    onset += ipi()
                onsets.append(onset)
    return Schedule(onsets, train_starts, draws)
