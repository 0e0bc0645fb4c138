from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tmspio.protocols import units


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("20 ms", Fraction(1, 50)),
        ("1.5 ms", Fraction(3, 2000)),
        ("10 s", Fraction(10)),
        ("200 us", Fraction(1, 5000)),
        ("0.1 s", Fraction(1, 10)),
        ("  7ms ", Fraction(7, 1000)),
    ],
)
def test_duration_is_exact(text, seconds):
    assert units.parse(text) == seconds
    assert type(units.parse(text).numerator) is int


def test_rate_is_the_exact_period():
    assert units.parse("0.9 Hz", rate_ok=True) == Fraction(10, 9)
    assert units.parse("10 Hz", rate_ok=True) == Fraction(1, 10)
    assert units.parse("0.9 Hz", rate_ok=True).text == "0.9 Hz"


@pytest.mark.parametrize("text", ["20", "20 mss", "-1 s", "1e3 ms", "1,5 ms", "ms", "", "1 min"])
def test_bad_duration_names_the_allowed_forms(text):
    with pytest.raises(ValueError) as e:
        units.parse(text)
    assert str(e.value) == 'a duration string such as "20 ms" (units s, ms, us)'


def test_rate_is_refused_where_only_durations_are_allowed():
    with pytest.raises(ValueError):
        units.parse("10 Hz")
    with pytest.raises(ValueError) as e:
        units.parse("0 Hz", rate_ok=True)
    assert str(e.value) == "a rate above 0 Hz"


@pytest.mark.parametrize(
    "seconds, text",
    [
        (Fraction(1, 50), "20 ms"),
        (Fraction(3, 2000), "1.5 ms"),
        (Fraction(10), "10 s"),
        (Fraction(1, 5000), "200 us"),
        (Fraction(10, 9), "0.9 Hz"),
        (Fraction(0), "0 s"),
        (Fraction(1, 10**9), "0.001 us"),
    ],
)
def test_format_seconds_is_exact(seconds, text):
    assert units.format_seconds(seconds) == text


def test_format_refuses_what_has_no_exact_form():
    assert units.format_seconds(Fraction(1, 3)) == "3 Hz"
    with pytest.raises(ValueError) as e:
        units.format_seconds(Fraction(3, 7))
    assert str(e.value) == "3/7 s has no exact decimal form"


@given(st.integers(0, 10**12), st.sampled_from(["s", "ms", "us"]), st.integers(0, 6))
def test_parse_format_round_trip(mantissa, unit, places):
    if places == 0:
        text = "%d %s" % (mantissa, unit)
    else:
        text = "%d.%0*d %s" % (mantissa // 10**places, places, mantissa % 10**places, unit)
    value = units.parse(text)
    again = units.parse(units.format_seconds(Fraction(value)))
    assert again == value
