"""Safety envelope: checks a protocol at a declared intensity against published limits.

Rules (docs/safety.md has the one table of every rule, its kind, source and status):

* core.py      Finding (rule, kind safety|method, outcome, value, limit, source, fix), Declared
* rtms.py      Wassermann single-train table and Chen 1997's pause; trains with shorter pauses
               are judged as one train
* families.py  every other family: its safety envelope (burst shape and spacing, pulse counts,
               intensity bound) and, as method findings, the published variants
* devices.py   each channel against its own stimulator's profile (incl. rate against output)
* policy.py    the site policy and the override record / site log
* envelope.py  check(), enforce(), and the pair check and run share: add_envelope_arguments()
               and judge() (evaluate() without printing or refusing)

Safety findings refuse (exit 3) unless a written override is given; method findings warn and
never refuse. Limits that are unknown give a warning; they are never guessed. Gated protocols are
checked in their densest case: one train per refractory interval.
"""

from .core import (
    METHOD,
    PASS,
    REFERENCES,
    REFUSE,
    SAFETY,
    WARN,
    Declared,
    Finding,
    data,
    declared_intensity,
    head_onsets,
)
from .devices import RATE_WINDOW
from .envelope import (
    OPTION_NAMES,
    Verdict,
    add_envelope_arguments,
    check,
    enforce,
    evaluate,
    judge,
    refused,
)
from .policy import load as load_policy
from .rtms import blocks, wassermann_limit

__all__ = [
    "METHOD",
    "OPTION_NAMES",
    "PASS",
    "RATE_WINDOW",
    "REFERENCES",
    "REFUSE",
    "SAFETY",
    "WARN",
    "Declared",
    "Finding",
    "Verdict",
    "add_envelope_arguments",
    "blocks",
    "check",
    "data",
    "declared_intensity",
    "enforce",
    "evaluate",
    "head_onsets",
    "judge",
    "load_policy",
    "refused",
    "wassermann_limit",
]
