"""JSON Schema of protocol files, generated from the model.

Regenerate after changing the model:  .venv/bin/python -m tmspio.protocols.schema
(tests/host/test_proto_schema.py fails while host/tmspio/data/protocol.schema.json is out of date).
"""

import json
import os

from .model import Protocol

SCHEMA_ID = "https://github.com/tmspio/tmspio/host/tmspio/data/protocol.schema.json"


def generate():
    schema = Protocol.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["description"] = (
        'A tmspio protocol file (TOML or JSON). Durations are strings with a unit: "20 ms", '
        '"1.5 ms", "10 s", "200 us"; intervals may also be rates, "10 Hz" = 100 ms. '
        "See docs/protocols.md."
    )
    return schema


def text():
    return json.dumps(generate(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def path():
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "protocol.schema.json")


if __name__ == "__main__":
    with open(path(), "w", encoding="utf-8") as f:
        f.write(text())
    print(path())
