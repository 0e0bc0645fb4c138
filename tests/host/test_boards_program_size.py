"""limits.max_program_bytes: required in every board file, bounded by the schema and by the chip's
SRAM; both validators reject the same broken values (tests/host/test_boards.py's rule)."""

import copy
import json
import os

import jsonschema
import pytest
from tmspio import boards
from tmspio.boards import BoardError, load_board, validate_board

SCHEMA = json.load(open(os.path.join(boards.BOARDS_DIR, "schema.json")))


def schema_errors(data):
    return list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))


def test_every_board_file_sets_a_limit_below_its_chips_sram():
    for name in boards.list_boards():
        board = load_board(name)
        limit = board["limits"]["max_program_bytes"]
        assert 4096 <= limit < boards.CHIP_SRAM_BYTES[board["chip"]], name


def test_the_emulated_board_has_the_picos_limit():
    assert (
        load_board("emulated")["limits"]["max_program_bytes"]
        == load_board("pico")["limits"]["max_program_bytes"]
    )


@pytest.mark.parametrize(
    "board,value,message,schema_rejects",
    [
        ("pico", None, "limits: missing required field 'max_program_bytes'", True),
        (
            "pico",
            4095,
            "limits.max_program_bytes: 4095 is out of range (allowed: 4096..532480)",
            True,
        ),
        (
            "pico2",
            532_481,
            "limits.max_program_bytes: 532481 is out of range (allowed: 4096..532480)",
            True,
        ),
        ("pico", "60K", "limits.max_program_bytes: expected an integer, got str", True),
        (
            "pico",
            270_337,
            "limits.max_program_bytes: 270337 is more than the rp2040's whole SRAM "
            "(270336 bytes); set it from the board's measured free heap (boards/README.md)",
            False,
        ),
    ],
)
def test_a_broken_size_limit_is_rejected(board, value, message, schema_rejects):
    data = copy.deepcopy(load_board(board))
    if value is None:
        del data["limits"]["max_program_bytes"]
    else:
        data["limits"]["max_program_bytes"] = value
    with pytest.raises(BoardError) as e:
        validate_board(data, source="x.json")
    assert str(e.value) == "x.json: " + message
    assert bool(schema_errors(data)) == schema_rejects


def test_an_rp2350_may_hold_more_than_an_rp2040():
    data = copy.deepcopy(load_board("pico2"))
    data["limits"]["max_program_bytes"] = 300_000
    validate_board(data, source="x.json")
    assert schema_errors(data) == []
