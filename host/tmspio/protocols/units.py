"""Exact durations. Rule: every duration is a string "<decimal number> <unit>".

Units: "s", "ms", "us" (microseconds). Intervals between onsets may also be written as a rate,
"<number> Hz", meaning the onset-to-onset period 1/rate ("0.9 Hz" = 10/9 s exactly). Values
are kept as fractions.Fraction seconds, so "0.1 s" is exactly 1/10 and nothing is rounded
before compilation.
"""

import re
from fractions import Fraction

UNITS = {"s": Fraction(1), "ms": Fraction(1, 1000), "us": Fraction(1, 1_000_000)}
DURATION_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*(s|ms|us)\s*$"
INTERVAL_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*(s|ms|us|Hz)\s*$"
DURATION_HELP = 'a duration string such as "20 ms" (units s, ms, us)'
INTERVAL_HELP = 'a duration string such as "20 ms" (units s, ms, us) or a rate such as "10 Hz"'
_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|ms|us|Hz)\s*$")


class Quantity(Fraction):
    """Exact seconds that remember how they were written (so files round-trip unchanged)."""

    def __new__(cls, seconds, text):
        self = super().__new__(cls, seconds)
        self.text = text
        return self

    def __repr__(self):
        return "Quantity(%r)" % self.text


def parse(text, rate_ok=False):
    """'20 ms' -> Quantity(1/50 s). Raises ValueError with the allowed forms."""
    allowed = INTERVAL_HELP if rate_ok else DURATION_HELP
    if not isinstance(text, str):
        raise ValueError(allowed)
    m = _RE.match(text)
    if not m or (m.group(2) == "Hz" and not rate_ok):
        raise ValueError(allowed)
    number = Fraction(m.group(1))
    if m.group(2) == "Hz":
        if number == 0:
            raise ValueError("a rate above 0 Hz")
        return Quantity(1 / number, "%s Hz" % m.group(1))
    return Quantity(number * UNITS[m.group(2)], "%s %s" % (m.group(1), m.group(2)))


def _decimal(value):
    """Exact decimal text of a Fraction whose denominator has only factors 2 and 5, else None."""
    den = value.denominator
    digits = 0
    while den % 10 == 0 or den % 2 == 0 or den % 5 == 0:
        if den % 10 == 0:
            den //= 10
        elif den % 2 == 0:
            den //= 2
        else:
            den //= 5
        digits += 1
    if den != 1:
        return None
    scaled = value * 10**digits
    text = str(scaled.numerator).rjust(digits + 1, "0")
    if digits:
        text = (text[:-digits] + "." + text[-digits:]).rstrip("0").rstrip(".")
    return text


def format_seconds(value):
    """Fraction seconds -> shortest exact duration string ('20 ms', '1.5 ms'; 10/9 s as Hz)."""
    if isinstance(value, Quantity):
        return value.text
    value = Fraction(value)
    for unit in ("s", "ms", "us"):
        text = _decimal(value / UNITS[unit])
        if text is not None and (unit == "us" or value / UNITS[unit] >= 1 or value == 0):
            return "%s %s" % (text, unit)
    if value > 0:
        rate = _decimal(1 / value)
        if rate is not None:
            return "%s Hz" % rate
    raise ValueError("%s s has no exact decimal form" % value)


def seconds_text(value, places=6):
    """Human display of Fraction seconds: '191.84 s', '0.0015 s' (rounded to `places`)."""
    text = "%.*f" % (places, float(value))
    return text.rstrip("0").rstrip(".") + " s"
