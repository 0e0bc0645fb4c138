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
from typing import NamedTuple

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
    if protocol.conditions is not None:
        return expand_trials(protocol)[0]
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


# ---- conditions and trials -----------------------------------------------------------------


class Trial(NamedTuple):
    index: int  # 0-based, time order
    condition: str  # the condition's name
    onset: Fraction  # exact seconds from the first trial's onset (the program's time zero)


class PlannedPulse(NamedTuple):
    """One pulse of one channel of a trial protocol, exact."""

    time: Fraction  # seconds from the first trial's onset
    width: Fraction  # seconds
    trial: int
    condition: str
    intensity: object  # the model's PulseIntensity, or None
    stimulator: object  # profile id or None (the channel's, else the protocol's)
    marker: object  # marker channels: the trial's code; else None


def _shuffle(rng, items):
    """Fisher-Yates with rng.random() only (its sequence is fixed across Python versions)."""
    items = list(items)
    for i in range(len(items) - 1, 0, -1):
        j = floor(Fraction(rng.random()) * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


def _feasible(left, last, run, max_run):
    """Whether the counts `left` can follow a sequence ending in `run` trials of `last` with
    no run longer than max_run: every condition's trials fit in the runs the others leave
    room for (the last condition's first run already holds `run`)."""
    total = sum(left.values())
    for name, n in left.items():
        others = total - n
        room = max_run * (others + 1)
        if name == last:
            room = (max_run - run) + max_run * others
        if n > room:
            return False
    return True


def balanced_order(names, repeats, seed, max_run=None):
    """Each of `names` `repeats` times in a seeded random order with no more than `max_run`
    equal trials in a row: each trial is drawn with weights = the trials each condition has
    left, among the conditions that keep the rest arrangeable."""
    rng = random.Random(seed)
    left = {n: repeats for n in names}
    limit = max_run if max_run is not None else repeats * len(names)
    out, last, run = [], None, 0
    while len(out) < repeats * len(names):
        options = []
        for n in names:
            if not left[n] or (n == last and run >= limit):
                continue
            left[n] -= 1
            if _feasible(left, n, run + 1 if n == last else 1, limit):
                options.append(n)
            left[n] += 1
        if not options:  # never: the start is arrangeable and each step keeps it so
            raise RuntimeError("balanced_order: no arrangeable choice after %r" % out)
        total = sum(left[n] for n in options)
        pick = floor(Fraction(rng.random()) * total)
        for n in options:
            pick -= left[n]
            if pick < 0:
                break
        run = run + 1 if n == last else 1
        last = n
        left[n] -= 1
        out.append(n)
    return out


def trial_order(protocol):
    """The condition name of every trial, in time order."""
    t = protocol.trials
    names = [c.name for c in protocol.conditions]
    if t.design == "list":
        return list(t.sequence)
    if t.design == "blocks":
        order = t.order if t.order is not None else _shuffle(random.Random(t.seed), names)
        return [n for n in order for _ in range(t.repeats)]
    return balanced_order(names, t.repeats, t.seed, t.max_run)


def expand_trials(protocol):
    """(Schedule of the trial onsets (train_starts: every trial; draws: trials.interval),
    [Trial], per channel [PlannedPulse] in time order)."""
    order = trial_order(protocol)
    draws = []
    interval = _source("trials.interval", protocol.trials.interval, draws)
    onsets, t = [], Fraction(0)
    for k in range(len(order)):
        if k:
            t += interval()
        onsets.append(t)
    trials = [Trial(k, name, onset) for k, (name, onset) in enumerate(zip(order, onsets))]
    conds = {c.name: c for c in protocol.conditions}
    pulses = [[] for _ in protocol.channels]
    for trial in trials:
        cond = conds[trial.condition]
        for ci, ch in enumerate(protocol.channels):
            if ch.role == "marker":
                if cond.marker is None:
                    continue
                for offset, width in ch.code.pulses(cond.marker):
                    pulses[ci].append(
                        PlannedPulse(
                            trial.onset + offset,
                            width,
                            trial.index,
                            cond.name,
                            None,
                            ch.stimulator,
                            cond.marker,
                        )
                    )
                continue
            p = cond.pulses.get(ch.name)
            if p is None:
                continue
            pulses[ci].append(
                PlannedPulse(
                    trial.onset + p.offset,
                    protocol.pulse_width_of(p),
                    trial.index,
                    cond.name,
                    p.intensity,
                    p.stimulator or ch.stimulator,
                    None,
                )
            )
    return Schedule(onsets, list(range(len(onsets))), draws), trials, pulses
