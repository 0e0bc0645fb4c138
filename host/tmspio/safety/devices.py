"""Stimulator profiles: each channel against its own stimulator (data/stimulators.json).

Every channel is its own stimulator (QPS: four, iTMS and SICI: two); a channel without its own
`stimulator` uses the protocol's profile. Minimum interval, pulses in any 1 s, the rate the
stimulator reaches at the declared output (rate_by_output), minimum width and polarity. An
UNKNOWN limit warns; it is never guessed.
"""

from fractions import Fraction
from math import ceil

from .core import PASS, REFUSE, WARN, Finding, hz, ms, num, shortest

RATE_WINDOW = Fraction(1)  # seconds: max_rate_hz counts pulses in any 1 s window


def max_in_window(onsets, window=RATE_WINDOW):
    return _max_in_window(onsets, window)


def _max_in_window(onsets, window):
    best, lo = 0, 0
    for hi in range(len(onsets)):
        while onsets[hi] - onsets[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _show(fastest):
    return "single pulse" if fastest is None else "shortest interval %s" % ms(fastest)


def stimulator_findings(protocol, stim, sched, default, declared):
    """Profile limits for the channels wired to `stim`; `default` is the profile id of channels
    without their own."""
    channels = [
        (i, ch) for i, ch in enumerate(protocol.channels) if (ch.stimulator or default) == stim.id
    ]
    fastest = shortest(sched.onsets)  # every channel repeats the schedule at its offset
    peak = _max_in_window(sched.onsets, RATE_WINDOW)
    return profile_findings(
        stim, channels, fastest, peak, protocol.pulse_width, declared, len(protocol.channels)
    )


def profile_findings(stim, channels, fastest, peak, width_s, declared, n_channels):
    """The profile's limits for `channels` [(index, Channel)] wired to it: `fastest` the
    shortest onset-to-onset interval of any of them (None: single pulses), `peak` the most
    pulses one of them gives in any 1 s, `width_s` the narrowest pulse (exact seconds)."""
    found = []
    if stim.min_interval_ms is None:
        found.append(
            Finding(
                "stimulator-min-interval",
                WARN,
                _show(fastest),
                "UNKNOWN",
                stim.source_text(stim.min_interval_note),
                stim.min_interval_note,
            )
        )
    else:
        limit = Fraction(str(stim.min_interval_ms)) / 1000
        bad = fastest is not None and fastest < limit
        found.append(
            Finding(
                "stimulator-min-interval",
                REFUSE if bad else PASS,
                _show(fastest),
                "at least %s" % ms(limit),
                stim.source_text(stim.min_interval_note),
                stim.min_interval_note,
                fix="intervals of at least %s on each channel of this stimulator (another channel "
                "and stimulator for closer pulses)" % ms(limit),
            )
        )
    value = "%d pulse%s in 1 s" % (peak, "" if peak == 1 else "s")
    if stim.max_rate_hz is None:
        found.append(Finding("stimulator-max-rate", WARN, value, "UNKNOWN", stim.source_text()))
    else:
        cap = Fraction(str(stim.max_rate_hz))
        found.append(
            Finding(
                "stimulator-max-rate",
                REFUSE if peak > cap else PASS,
                value,
                "%s pulses in any 1 s" % num(cap),
                stim.source_text(),
                fix="at most %s pulses in any 1 s" % num(cap),
            )
        )
    found.append(_rate_at_output(stim, fastest, declared))
    width = ms(width_s)
    if stim.min_width_us is None:
        found.append(
            Finding(
                "stimulator-min-width",
                WARN,
                width,
                "UNKNOWN",
                stim.source_text(stim.min_width_note),
                stim.min_width_note,
            )
        )
    else:
        limit = Fraction(str(stim.min_width_us)) / 1_000_000
        found.append(
            Finding(
                "stimulator-min-width",
                REFUSE if width_s < limit else PASS,
                width,
                "at least %s" % ms(limit),
                stim.source_text(stim.min_width_note),
                fix='pulse_width at least "%s"' % ms(limit),
            )
        )
    for i, ch in channels:
        value = "channel %d (%s) %s" % (i, ch.name, ch.polarity)
        if stim.polarity == "unknown":
            outcome = WARN
        elif stim.polarity == "either":
            outcome = PASS
        else:
            outcome = PASS if stim.polarity == ch.polarity else REFUSE
        found.append(
            Finding(
                "stimulator-polarity",
                outcome,
                value,
                stim.polarity if stim.polarity != "unknown" else "UNKNOWN",
                stim.source_text(stim.polarity_note),
                stim.polarity_note,
                fix='channels.%d.polarity = "%s"' % (i, stim.polarity),
            )
        )
    if len(channels) < n_channels:
        names = ", ".join(ch.name for _, ch in channels)
        for f in found:
            if not f.value.startswith("channel "):
                f.value = "%s: %s" % (names, f.value)
    return found


def _rate_at_output(stim, fastest, declared):
    """The stimulator's highest rate at the declared output (its rate-against-output table)."""
    rule = "stimulator-rate-at-output"
    src = stim.source_text(stim.rate_by_output_note)
    if fastest is None:
        return Finding(rule, PASS, "single pulse", "any output", src)
    rate = 1 / fastest
    value = "%s at %s" % (
        hz(rate),
        "output UNKNOWN" if declared.output is None else "%s%% output" % num(declared.output),
    )
    if not stim.rate_by_output:
        return Finding(rule, WARN, value, "UNKNOWN", src, stim.rate_by_output_note)
    top = stim.highest_output_for(rate)
    allowed = "up to %s%% output" % top if top is not None else "at no output in the table"
    if declared.output is None:
        return Finding(
            rule,
            WARN,
            value,
            "%s reached %s" % (hz(rate), allowed),
            src,
            "declare the stimulator output with --output PCT to check it",
        )
    limit = stim.rate_at_output(declared.output)
    cap, step = limit
    bad = rate > cap
    fix = ""
    if bad:
        options = []
        if top is not None:
            options.append("at most %s%% output" % top)
        options.append(
            "intervals of at least %s (%s)" % (ms(Fraction(1) / cap), hz(cap))
            if (1 / cap) * 1000 == ceil((1 / cap) * 1000)
            else "intervals of at least %s ms (%s)" % (ceil(Fraction(1000) / cap), hz(cap))
        )
        fix = ", or ".join(options)
    return Finding(
        rule,
        REFUSE if bad else PASS,
        value,
        "%s up to %s%% output" % (hz(cap), step),
        src,
        stim.rate_by_output_note,
        fix=fix,
    )
