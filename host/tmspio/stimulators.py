"""Stimulator trigger-input profiles (data/stimulators.json): what each trigger input accepts.

Unknown facts are None and stay unknown: the safety envelope reports them as unchecked, never
guesses them. A profile may carry a rate-against-output table (rate_by_output): the highest pulse
rate up to each stimulator output in %, the unit the manufacturers' tables use.
"""

import re
from fractions import Fraction

from . import packaged
from .errors import InputError

POLARITIES = ("active-high", "active-low", "either", "unknown")


class Stimulator:
    def __init__(self, entry):
        self.id = entry["id"]
        self.label = entry["label"]
        self.connector = entry["connector"]
        self.polarity = entry["polarity"]
        self.polarity_note = entry["polarity_note"]
        self.min_width_us = entry["min_width_us"]
        self.min_width_note = entry["min_width_note"]
        self.min_interval_ms = entry["min_interval_ms"]
        self.min_interval_note = entry["min_interval_note"]
        self.max_rate_hz = entry["max_rate_hz"]
        self.rate_by_output = entry.get("rate_by_output")
        self.rate_by_output_note = entry.get("rate_by_output_note", "UNKNOWN")
        self.trigger_out = entry["trigger_out"]
        self.notes = entry["notes"]
        self.sources = list(entry["sources"])

    def source_text(self, note=None):
        """The profile and the documents behind `note` (its [Sxx] keys; default: every source
        of the profile), named so a reader can find them."""
        keys = _keys(note) if note else list(self.sources)
        refs = _load()["sources"]
        docs = "; ".join(refs[k] for k in keys if k in refs) or "no source"
        return "%s profile (tmspio stimulators %s): %s" % (self.label, self.id, docs)

    def rate_at_output(self, output):
        """(highest rate in Hz as a Fraction, the table's output step it comes from) at
        stimulator output `output` %, or None when the profile has no table. Between two table
        outputs the higher output's (lower) rate applies; above the last: None too."""
        if not self.rate_by_output:
            return None
        for top, rate in self.rate_by_output["table"]:
            if output <= top:
                return Fraction(str(rate)), top
        return None

    def highest_output_for(self, rate_hz):
        """The highest output % at which the table allows `rate_hz`, or None (not even at the
        lowest output)."""
        best = None
        for top, rate in self.rate_by_output["table"]:
            if Fraction(str(rate)) >= rate_hz:
                best = top
        return best

    def source_list(self):
        refs = _load()["sources"]
        return ["%s %s" % (k, refs[k]) for k in self.sources]

    def as_dict(self):
        return dict(self.__dict__)


def _keys(text):
    found = []
    for group in re.findall(r"\[(S\d+(?:\s*,\s*S\d+)*)\]", text or ""):
        for k in re.split(r"\s*,\s*", group):
            if k not in found:
                found.append(k)
    return found


def _load():
    return packaged.load_json("stimulators.json")


def all_profiles():
    return [Stimulator(e) for e in _load()["stimulators"]]


def ids():
    return [e["id"] for e in _load()["stimulators"]]


def get(name, field="--stimulator"):
    for entry in _load()["stimulators"]:
        if entry["id"] == name:
            return Stimulator(entry)
    raise InputError("%s = %r: unknown stimulator; allowed: %s" % (field, name, ", ".join(ids())))
