"""Property (issue 10, point 1): splitting a refused train into back-to-back pieces, or into
pieces with pauses shorter than Chen 1997's safe pause (5 s), never turns the refusal into a pass.
Pieces are written both as nested timing (equal pieces, either interval convention) and as an
explicit onset list (pieces of any size)."""

from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from proto_helpers import protocol
from tmspio import safety

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


def refused(p, percent):
    return [
        f.rule for f in safety.check(p, safety.Declared(percent, "MT")) if f.outcome == "refuse"
    ]


def single_train(n, ipi_ms):
    return protocol(timing={"inter_pulse_interval": "%d ms" % ipi_ms, "pulses_in_burst": n})


trains = st.tuples(
    st.integers(min_value=40, max_value=250),  # interval, ms: 4-25 Hz
    st.integers(min_value=2, max_value=300),  # pulses
    st.sampled_from([90, 100, 105, 110, 120, 130, 150, 180, 220]),  # % MT
)


@SETTINGS
@given(
    trains,
    st.integers(min_value=2, max_value=12),
    st.integers(min_value=0, max_value=4999),
    st.booleans(),
)
def test_equal_pieces_never_pass_a_refused_train(train, pieces, pause_ms, from_last):
    ipi_ms, n, percent = train
    assume(n % pieces == 0 and n // pieces >= 1)
    assume("wassermann-train-duration" in refused(single_train(n, ipi_ms), percent))
    size = n // pieces
    ipi = Fraction(ipi_ms, 1000)
    pause = Fraction(pause_ms, 1000)
    if from_last:  # from the last pulse: back to back is one interval
        iti = ipi + pause
    else:  # onset to onset: back to back is one piece's n/f
        iti = size * ipi + pause
    timing = {
        "inter_pulse_interval": "%d ms" % ipi_ms,
        "pulses_in_burst": size,
        "inter_train_interval": "%s ms" % (iti * 1000),
        "trains_in_protocol": pieces,
    }
    if from_last:
        timing["inter_train_interval_from"] = "last-pulse"
    if size == 1:
        del timing["inter_pulse_interval"]
    split = protocol(timing=timing)
    assert refused(split, percent), (train, pieces, pause_ms, from_last)


@SETTINGS
@given(trains, st.data())
def test_pieces_of_any_size_with_short_pauses_never_pass(train, data):
    ipi_ms, n, percent = train
    assume("wassermann-train-duration" in refused(single_train(n, ipi_ms), percent))
    cuts = data.draw(st.sets(st.integers(min_value=1, max_value=n - 1), max_size=8))
    pauses = {
        c: data.draw(st.integers(min_value=0, max_value=4999), label="pause at %d" % c)
        for c in sorted(cuts)
    }
    ipi = Fraction(ipi_ms, 1000)
    onsets, t = [], Fraction(0)
    for k in range(n):
        if k:
            t += ipi + Fraction(pauses.get(k, 0), 1000)
        onsets.append(t)
    split = protocol(onsets=["%s ms" % (x * 1000) for x in onsets], timing=None)
    assert refused(split, percent), (train, pauses)
