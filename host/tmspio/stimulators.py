"""Stimulator trigger-input profiles (data/stimulators.json): what each trigger input accepts.

Unknown facts are None and stay unknown: the safety envelope reports them as unchecked, never
guesses them.
"""

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
        self.trigger_out = entry["trigger_out"]
        self.notes = entry["notes"]
        self.sources = list(entry["sources"])

    def source_text(self):
        """Short source label; `tmspio stimulators ID` resolves the keys."""
        keys = ", ".join(self.sources) or "no source"
        return "%s profile: %s, see tmspio stimulators %s" % (self.label, keys, self.id)

    def source_list(self):
        refs = _load()["sources"]
        return ["%s %s" % (k, refs[k]) for k in self.sources]

    def as_dict(self):
        return dict(self.__dict__)


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
