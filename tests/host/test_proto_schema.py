"""The shipped JSON Schema is generated from the model and accepts every library file."""

import json
import tomllib

import jsonschema
import pytest
from tmspio.protocols import library, schema


def _schema():
    with open(schema.path(), encoding="utf-8") as f:
        return json.load(f)


def test_shipped_schema_is_up_to_date():
    with open(schema.path(), encoding="utf-8") as f:
        shipped = f.read()
    assert shipped == schema.text(), "run: .venv/bin/python -m tmspio.protocols.schema"


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(_schema())


@pytest.mark.parametrize("name", library.names())
def test_library_file_validates(name):
    with open(library.path_of(name), "rb") as f:
        data = tomllib.load(f)
    jsonschema.Draft202012Validator(_schema()).validate(data)


@pytest.mark.parametrize(
    "field, value",
    [
        ("pulse_width", "1 mss"),
        ("pulse_width", 0.001),
        ("family", "tdcs"),
        ("colour", "red"),
    ],
)
def test_schema_rejects_what_the_model_rejects(field, value):
    with open(library.path_of("itbs"), "rb") as f:
        data = tomllib.load(f)
    data[field] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(_schema()).validate(data)


def test_schema_accepts_jitter_and_rates_and_rejects_rate_widths():
    v = jsonschema.Draft202012Validator(_schema())
    with open(library.path_of("tms-eeg"), "rb") as f:
        data = tomllib.load(f)
    v.validate(data)
    data["timing"]["inter_pulse_interval"] = {"uniform": ["1 s", "2 s"]}
    assert not v.is_valid(data)  # seed required
    data["timing"]["inter_pulse_interval"] = "0.9 Hz"
    v.validate(data)
    data["pulse_width"] = "1000 Hz"
    assert not v.is_valid(data)
