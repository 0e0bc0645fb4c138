"""Every board file validates against boards/schema.json and the wiring rules of tmspio.boards.

Each broken variant below must be rejected by the host validator with an exact message, and the
ones a JSON Schema can express must be rejected by jsonschema too, so the two cannot drift.
"""

import copy
import json
import os
import re

import jsonschema
import pytest
from tmspio import boards
from tmspio.boards import BoardError, load_board, validate_board
from tmspio.errors import InputError

SCHEMA = json.load(open(os.path.join(boards.BOARDS_DIR, "schema.json")))
MINE = ("pico_w", "feather_rp2040", "xiao_rp2040", "rp2040_zero")


def schema_errors(data):
    return list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_list_boards_includes_the_supported_boards():
    names = boards.list_boards()
    assert "schema" not in names
    for name in MINE:
        assert name in names


@pytest.mark.parametrize("name", boards.list_boards())
def test_every_board_file_validates(name):
    with open(os.path.join(boards.BOARDS_DIR, name + ".json")) as f:
        data = json.load(f)
    assert [e.message for e in schema_errors(data)] == []
    assert load_board(name) == data
    assert data["name"] == name


def test_pico_w_led_is_on_the_wireless_chip():
    b = load_board("pico_w")
    assert b["pins"]["status_led"] is None
    assert b["status_led_kind"] == "cyw43"
    assert set(b["reserved"]) == {"23", "24", "25", "29"}


def test_feather_keeps_clear_of_neopixel_and_red_led():
    b = load_board("feather_rp2040")
    assert b["pins"]["status_led"] == 13
    assert 16 not in [g for _, g in boards.pin_roles(b)]
    assert [b["header"][str(g)] for g in b["pins"]["trigger"]] == ["D5", "D6", "D9", "D10"]


def test_xiao_uses_only_its_eleven_pads():
    b = load_board("xiao_rp2040")
    assert len(b["broken_out"]) == 11
    assert b["status_led_active"] == "low"
    assert boards.loopback_wiring(b) == [
        "trigger[0] GPIO0 = D6/TX (pad 7) -> confirm_in GPIO27 = D1/A1 (pad 2)"
    ]


def test_pico_w_loopback_wiring_names_header_pins():
    assert boards.loopback_wiring(load_board("pico_w")) == [
        "trigger[0] GPIO2 = GP2 (pin 4) -> confirm_in GPIO11 = GP11 (pin 15)"
    ]


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError) as e:
        load_board("nosuch")
    assert "board 'nosuch': no such board file" in str(e.value)
    assert "pico_w" in str(e.value)
    assert isinstance(e.value, InputError)


def test_board_file_by_path_and_bad_json(tmp_path):
    good = tmp_path / "mine.json"
    data = load_board("pico_w")
    good.write_text(json.dumps(data))
    assert load_board(str(good)) == data  # a copied file may keep its name field
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(BoardError) as e:
        load_board(str(bad))
    assert str(e.value).startswith("%s: not a readable JSON file:" % bad)


def _set(path, value):
    def mutate(d):
        keys = path.split(".")
        for k in keys[:-1]:
            d = d[int(k)] if isinstance(d, list) else d[k]
        last = keys[-1]
        if value is _DELETE:
            del d[last]
        elif isinstance(d, list):
            d[int(last)] = value
        else:
            d[last] = value

    return mutate


_DELETE = object()

# (id, mutation, exact host message after "<src>: ", jsonschema also rejects)
BROKEN = [
    ("missing-limits", _set("limits", _DELETE), "board: missing required field 'limits'", True),
    (
        "unknown-field",
        _set("colour", "red"),
        "board: unknown field 'colour' (allowed: name, chip, "
        "sysclk_hz, pins, polarity, pulls, limits, loopback, description, status_led_kind, "
        "status_led_active, header, broken_out, reserved, rig, sources, notes)",
        True,
    ),
    (
        "bad-chip",
        _set("chip", "rp2041"),
        "chip: 'rp2041' is not allowed (allowed: rp2040, rp2350, rp2350b)",
        True,
    ),
    (
        "slow-clock",
        _set("sysclk_hz", 999),
        "sysclk_hz: 999 is out of range (allowed: 1000000..300000000)",
        True,
    ),
    (
        "float-clock",
        _set("sysclk_hz", 124999999.5),
        "sysclk_hz: expected an integer, got float",
        True,
    ),
    (
        "five-triggers",
        _set("pins.trigger", [2, 3, 4, 5, 7]),
        "pins.trigger: expected a list of 1 to 4 GPIOs, got [2, 3, 4, 5, 7]",
        True,
    ),
    (
        "bad-edge",
        _set("polarity.estop", "high"),
        "polarity.estop: 'high' is not allowed (allowed: rising, falling)",
        True,
    ),
    (
        "bad-pull",
        _set("pulls.trigger_in", "weak"),
        "pulls.trigger_in: 'weak' is not allowed (allowed: up, down, none)",
        True,
    ),
    (
        "zero-width",
        _set("limits.min_width_us", 0),
        "limits.min_width_us: 0 is out of range (allowed: >= 1)",
        True,
    ),
    (
        "no-loopback",
        _set("loopback", []),
        "loopback: expected a non-empty list of [output, input] pairs",
        True,
    ),
    (
        "short-pair",
        _set("loopback", [[2]]),
        "loopback[0]: expected [output GPIO, input GPIO], got [2]",
        True,
    ),
    (
        "led-kind",
        _set("status_led_kind", "rgb"),
        "status_led_kind: 'rgb' is not allowed (allowed: gpio, neopixel, cyw43)",
        True,
    ),
    (
        "header-key",
        _set("header", {"GP2": "pin 4"}),
        "header: key 'GP2' is not a GPIO number",
        True,
    ),
    # Wiring rules: only the host validator can see these.
    (
        "pin-twice",
        _set("pins.marker", 3),
        "pins.marker: GPIO3 is already used by pins.trigger[1]",
        False,
    ),
    (
        "no-such-gpio",
        _set("pins.confirm_in", 30),
        "pins.confirm_in: GPIO30 does not exist on rp2040 (GPIO0-29)",
        False,
    ),
    (
        "not-broken-out",
        _set("pins.estop", 23),
        "pins.estop: GPIO23 is not broken out on this board",
        False,
    ),
    ("reserved", _set("broken_out", list(range(0, 30))), None, False),
    (
        "led-null-gpio",
        _set("status_led_kind", "gpio"),
        "pins.status_led: must be null exactly "
        "when status_led_kind is 'cyw43' (got None with kind 'gpio')",
        False,
    ),
    (
        "estop-not-failsafe",
        _set("polarity.estop", "falling"),
        "pulls.estop: 'up' with polarity "
        "'falling' is not fail-safe: a cut wire must read as stop, so use pull 'down' "
        "(normally-closed button to 3V3)",
        False,
    ),
    (
        "estop-no-pull",
        _set("pulls.estop", "none"),
        "pulls.estop: 'none' with polarity 'rising' "
        "is not fail-safe: a cut wire must read as stop, so use pull 'up' (normally-closed button "
        "to ground)",
        False,
    ),
    (
        "width-order",
        _set("limits.min_width_us", 20000),
        "limits.min_width_us: 20000 is above max_width_us 10000",
        False,
    ),
    (
        "interval",
        _set("limits.min_interval_us", 10),
        "limits.min_interval_us: 10 must exceed "
        "min_width_us 10 (a pulse must end before the next starts)",
        False,
    ),
    (
        "loop-from-input",
        _set("loopback", [[10, 11]]),
        "loopback[0][0]: GPIO10 is not a trigger output (the self-test drives trigger channels)",
        False,
    ),
    (
        "rig-not-trigger",
        _set("rig", {"estop_driver": 6}),
        "rig.estop_driver: GPIO6 is not a trigger output (the e-stop test pulses a trigger "
        "channel)",
        False,
    ),
    (
        "rig-is-loopback",
        _set("rig", {"estop_driver": 2}),
        "rig.estop_driver: GPIO2 is also a loopback output: the self-test would press the e-stop",
        False,
    ),
    (
        "rig-field",
        _set("rig", {"estop": 5}),
        "rig: unknown field 'estop' (allowed: estop_driver)",
        True,
    ),
    (
        "loop-to-estop",
        _set("loopback", [[2, 12]]),
        "loopback[0][1]: GPIO12 is not a capture input (trigger_in or confirm_in pin)",
        False,
    ),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_board_is_rejected(case):
    _, mutate, message, schema_rejects = case
    data = copy.deepcopy(load_board("pico_w"))
    mutate(data)
    if message is None:  # GPIO25 is reserved for the CYW43 chip on the Pico W
        data["pins"]["estop"] = 25
        message = "pins.estop: GPIO25 is reserved for CYW43 SPI chip select"
    with pytest.raises(BoardError) as e:
        validate_board(data, source="x.json")
    assert str(e.value) == "x.json: " + message
    assert bool(schema_errors(data)) == schema_rejects


def _gpios(cell):
    out = []
    for a, b in re.findall(r"GP(?:IO)?(\d+)(?:-(\d+))?", cell):
        out += list(range(int(a), int(b or a) + 1))
    return out


def test_readme_board_table_matches_the_files():
    readme = open(os.path.join(boards.BOARDS_DIR, "README.md")).read()
    table = readme.split("## Supported boards")[1].split("\n\n")[1]
    rows = [r.strip("|").split("|") for r in table.splitlines()[2:]]
    assert sorted(r[0].strip() for r in rows) == boards.list_boards()
    for cells in rows:
        name, _, chip, trig, marker, t_in, c_in, estop, led, loop = (c.strip() for c in cells)
        b = load_board(name)
        p = b["pins"]
        assert chip == b["chip"]
        assert _gpios(trig) == p["trigger"]
        assert [_gpios(c) for c in (marker, t_in, c_in, estop)] == [
            [p["marker"]],
            [p["trigger_in"]],
            [p["confirm_in"]],
            [p["estop"]],
        ]
        kind = led.split()[0]
        assert kind == b.get("status_led_kind", "gpio")
        if p["status_led"] is not None:
            assert int(led.split()[1].rstrip(",")) == p["status_led"]
        assert _gpios(loop) == b["loopback"][0]


def test_wiring_doc_jumpers_match_the_files():
    text = open(os.path.join(boards.BOARDS_DIR, "..", "docs", "wiring.md")).read()
    expected = {
        "pico_w": "| pico, pico_w, pico2 | GP2 (pin 4) → GP11 (pin 15) |",
        "feather_rp2040": "| feather_rp2040 | D5 (GPIO7) → A1 (GPIO27) |",
        "xiao_rp2040": "| xiao_rp2040 | D6/TX (GPIO0, pad 7) → D1/A1 (GPIO27, pad 2) |",
        "rp2040_zero": "| rp2040_zero | GP2 → GP11 |",
    }
    for name, row in expected.items():
        assert row in text
        out, inp = load_board(name)["loopback"][0]
        label = load_board(name)["header"]
        for gpio in (out, inp):
            assert label[str(gpio)].split(" ")[0].split("/")[0] in row
