"""Board files (boards/<name>.json): load, validate, and answer wiring questions.

The shape of a board file is boards/schema.json (documented in boards/README.md). The host does
not need jsonschema at run time: `validate_board` checks the same shape by hand, then the rules a
JSON Schema cannot express — no GPIO used twice, every GPIO exists on the chip and is broken out,
the e-stop is fail-safe, loopback pairs join an output to a capture input. The test suite runs
both validators over every board file and over a set of broken files, so they cannot drift apart.
"""

import json
import os

from .errors import InputError
from .firmware import BOARDS_DIR

# GPIOs per chip: RP2040 and RP2350A have GPIO0-29, RP2350B has GPIO0-47.
CHIP_GPIOS = {"rp2040": 30, "rp2350": 30, "rp2350b": 48}
SYSCLK_RANGE_HZ = (1_000_000, 300_000_000)
OUTPUT_ROLES = ("trigger", "marker")
CAPTURE_ROLES = ("trigger_in", "confirm_in")
INPUT_ROLES = ("trigger_in", "confirm_in", "estop")
LIMIT_FIELDS = (
    "min_width_us",
    "max_width_us",
    "min_interval_us",
    "max_pulses",
    "max_rate_hz",
    "max_rate_window_s",
    "max_program_bytes",
)
# limits.max_program_bytes: the schema's bounds, and each chip's whole SRAM (no limit can reach it)
PROGRAM_BYTES_RANGE = (4096, 532_480)
CHIP_SRAM_BYTES = {"rp2040": 270_336, "rp2350": 532_480, "rp2350b": 532_480}
LED_KINDS = ("gpio", "neopixel", "cyw43")
REQUIRED = ("name", "chip", "sysclk_hz", "pins", "polarity", "pulls", "limits", "loopback")
OPTIONAL = (
    "description",
    "status_led_kind",
    "status_led_active",
    "header",
    "broken_out",
    "reserved",
    "rig",
    "sources",
    "notes",
)
EDGES = ("rising", "falling")
PULLS = ("up", "down", "none")
# The pull that takes an unconnected (cut) e-stop line to its stop level.
FAILSAFE_PULL = {"rising": "up", "falling": "down"}


class BoardError(InputError):
    """A board file that is missing, unreadable or breaks the schema or a wiring rule."""


def list_boards():
    """Names of the board files shipped in boards/ (sorted)."""
    if not os.path.isdir(BOARDS_DIR):
        return []
    return sorted(
        f[:-5] for f in os.listdir(BOARDS_DIR) if f.endswith(".json") and f != "schema.json"
    )


def board_path(name_or_path):
    """A board name ("pico_w") resolves to boards/pico_w.json; anything with / or .json is a
    path."""
    text = str(name_or_path)
    if os.sep in text or "/" in text or text.endswith(".json"):
        return text
    return os.path.join(BOARDS_DIR, text + ".json")


def load_board(name_or_path):
    """Read and validate a board file; returns its dict. Raises BoardError naming file and
    field."""
    path = board_path(name_or_path)
    if not os.path.isfile(path):
        raise BoardError(
            "board %r: no such board file %s (known boards: %s)"
            % (str(name_or_path), path, ", ".join(list_boards()) or "none")
        )
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise BoardError("%s: not a readable JSON file: %s" % (path, e)) from None
    validate_board(data, source=path)
    stem = os.path.basename(path)[: -len(".json")]
    shipped = os.path.dirname(os.path.abspath(path)) == os.path.abspath(BOARDS_DIR)
    if shipped and data["name"] != stem:
        raise BoardError("%s: name: %r must equal the file name %r" % (path, data["name"], stem))
    return data


def validate_board(data, source="<board>"):
    """Check shape and wiring rules of a board dict; return it unchanged or raise BoardError."""
    _Checker(source).run(data)
    return data


class _Checker:
    def __init__(self, source):
        self.source = source

    def fail(self, field, message):
        raise BoardError("%s: %s: %s" % (self.source, field, message))

    # -- shape (mirrors boards/schema.json) -------------------------------------------------

    def obj(self, value, field, required, optional=()):
        if not isinstance(value, dict):
            self.fail(field, "expected an object, got %s" % _kind(value))
        for key in required:
            if key not in value:
                self.fail(field, "missing required field %r" % key)
        allowed = tuple(required) + tuple(optional)
        for key in value:
            if key not in allowed:
                self.fail(field, "unknown field %r (allowed: %s)" % (key, ", ".join(allowed)))
        return value

    def integer(self, value, field, low, high=None):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "expected an integer, got %s" % _kind(value))
        if value < low or (high is not None and value > high):
            allowed = ">= %d" % low if high is None else "%d..%d" % (low, high)
            self.fail(field, "%d is out of range (allowed: %s)" % (value, allowed))
        return value

    def choice(self, value, field, allowed):
        if value not in allowed:
            self.fail(field, "%r is not allowed (allowed: %s)" % (value, ", ".join(allowed)))
        return value

    def text(self, value, field):
        if not isinstance(value, str) or not value:
            self.fail(field, "expected a non-empty string, got %s" % _kind(value))
        return value

    def gpio_map(self, value, field):
        if not isinstance(value, dict):
            self.fail(field, "expected an object, got %s" % _kind(value))
        for key, label in value.items():
            if not (key.isdigit() and str(int(key)) == key):
                self.fail(field, "key %r is not a GPIO number" % key)
            self.text(label, "%s.%s" % (field, key))

    def run(self, d):
        self.obj(d, "board", REQUIRED, OPTIONAL)
        name = d["name"]
        if not (isinstance(name, str) and name and _is_slug(name)):
            self.fail("name", "%r must be lower-case letters, digits and _" % (name,))
        chip = self.choice(d["chip"], "chip", tuple(CHIP_GPIOS))
        self.integer(d["sysclk_hz"], "sysclk_hz", *SYSCLK_RANGE_HZ)
        pins = self.obj(d["pins"], "pins", OUTPUT_ROLES + INPUT_ROLES + ("status_led",))
        trig = pins["trigger"]
        if not isinstance(trig, list) or not 1 <= len(trig) <= 4:
            self.fail("pins.trigger", "expected a list of 1 to 4 GPIOs, got %r" % (trig,))
        for i, g in enumerate(trig):
            self.integer(g, "pins.trigger[%d]" % i, 0, 47)
        for role in ("marker",) + INPUT_ROLES:
            self.integer(pins[role], "pins." + role, 0, 47)
        if pins["status_led"] is not None:
            self.integer(pins["status_led"], "pins.status_led", 0, 47)
        for group, allowed in (("polarity", EDGES), ("pulls", PULLS)):
            self.obj(d[group], group, INPUT_ROLES)
            for role in INPUT_ROLES:
                self.choice(d[group][role], "%s.%s" % (group, role), allowed)
        limits = self.obj(d["limits"], "limits", LIMIT_FIELDS)
        for key in LIMIT_FIELDS[:-1]:
            self.integer(limits[key], "limits." + key, 1)
        self.integer(limits["max_program_bytes"], "limits.max_program_bytes", *PROGRAM_BYTES_RANGE)
        loop = d["loopback"]
        if not isinstance(loop, list) or not loop:
            self.fail("loopback", "expected a non-empty list of [output, input] pairs")
        for i, pair in enumerate(loop):
            if not (isinstance(pair, list) and len(pair) == 2):
                self.fail(
                    "loopback[%d]" % i, "expected [output GPIO, input GPIO], got %r" % (pair,)
                )
            for j, g in enumerate(pair):
                self.integer(g, "loopback[%d][%d]" % (i, j), 0, 47)
        if "status_led_kind" in d:
            self.choice(d["status_led_kind"], "status_led_kind", LED_KINDS)
        if "status_led_active" in d:
            self.choice(d["status_led_active"], "status_led_active", ("high", "low"))
        if "description" in d:
            self.text(d["description"], "description")
        for key in ("header", "reserved"):
            if key in d:
                self.gpio_map(d[key], key)
        if "broken_out" in d:
            bo = d["broken_out"]
            if not isinstance(bo, list):
                self.fail("broken_out", "expected a list of GPIOs, got %s" % _kind(bo))
            for i, g in enumerate(bo):
                self.integer(g, "broken_out[%d]" % i, 0, 47)
            if len(set(bo)) != len(bo):
                self.fail("broken_out", "lists a GPIO twice")
        if "rig" in d:
            self.obj(d["rig"], "rig", (), ("estop_driver",))
            if "estop_driver" in d["rig"]:
                self.integer(d["rig"]["estop_driver"], "rig.estop_driver", 0, 47)
        for key in ("sources", "notes"):
            if key in d:
                if not isinstance(d[key], list):
                    self.fail(key, "expected a list of strings, got %s" % _kind(d[key]))
                for i, item in enumerate(d[key]):
                    self.text(item, "%s[%d]" % (key, i))
        self.wiring(d, chip)

    # -- rules a JSON Schema cannot express ---------------------------------------------------

    def wiring(self, d, chip):
        count = CHIP_GPIOS[chip]
        roles = pin_roles(d)
        seen = {}
        for role, g in roles:
            if g >= count:
                self.fail(
                    "pins." + role, "GPIO%d does not exist on %s (GPIO0-%d)" % (g, chip, count - 1)
                )
            if g in seen:
                self.fail("pins." + role, "GPIO%d is already used by pins.%s" % (g, seen[g]))
            seen[g] = role
        for key in ("header", "reserved"):
            for k in d.get(key, {}):
                if int(k) >= count:
                    self.fail("%s.%s" % (key, k), "GPIO%s does not exist on %s" % (k, chip))
        for g in d.get("broken_out", ()):
            if g >= count:
                self.fail("broken_out", "GPIO%d does not exist on %s" % (g, chip))
        wired = [(r, g) for r, g in roles if r != "status_led"]
        if "broken_out" in d:
            for role, g in wired:
                if g not in d["broken_out"]:
                    self.fail("pins." + role, "GPIO%d is not broken out on this board" % g)
        for role, g in wired:
            if str(g) in d.get("reserved", {}):
                self.fail(
                    "pins." + role,
                    "GPIO%d is reserved for %s" % (g, d["reserved"][str(g)]),
                )
        kind = d.get("status_led_kind", "gpio")
        led = d["pins"]["status_led"]
        if (kind == "cyw43") != (led is None):
            self.fail(
                "pins.status_led",
                "must be null exactly when status_led_kind is 'cyw43' (got %r with kind %r)"
                % (led, kind),
            )
        edge, pull = d["polarity"]["estop"], d["pulls"]["estop"]
        if pull != FAILSAFE_PULL[edge]:
            self.fail(
                "pulls.estop",
                "%r with polarity %r is not fail-safe: a cut wire must read as stop, so use "
                "pull %r (normally-closed button to %s)"
                % (pull, edge, FAILSAFE_PULL[edge], "ground" if edge == "rising" else "3V3"),
            )
        lim = d["limits"]
        if lim["min_width_us"] > lim["max_width_us"]:
            self.fail(
                "limits.min_width_us",
                "%d is above max_width_us %d" % (lim["min_width_us"], lim["max_width_us"]),
            )
        if lim["min_interval_us"] <= lim["min_width_us"]:
            self.fail(
                "limits.min_interval_us",
                "%d must exceed min_width_us %d (a pulse must end before the next starts)"
                % (lim["min_interval_us"], lim["min_width_us"]),
            )
        if lim["max_program_bytes"] > CHIP_SRAM_BYTES[chip]:
            self.fail(
                "limits.max_program_bytes",
                "%d is more than the %s's whole SRAM (%d bytes); set it from the board's "
                "measured free heap (boards/README.md)"
                % (lim["max_program_bytes"], chip, CHIP_SRAM_BYTES[chip]),
            )
        outs = dict((g, r) for r, g in roles if r.startswith("trigger["))
        caps = dict((g, r) for r, g in roles if r in CAPTURE_ROLES)
        for i, (out, inp) in enumerate(d["loopback"]):
            if out not in outs:
                self.fail(
                    "loopback[%d][0]" % i,
                    "GPIO%d is not a trigger output (the self-test drives trigger channels)" % out,
                )
            if inp not in caps:
                self.fail(
                    "loopback[%d][1]" % i,
                    "GPIO%d is not a capture input (trigger_in or confirm_in pin)" % inp,
                )

        driver = d.get("rig", {}).get("estop_driver")
        if driver is not None:
            if driver not in outs:
                self.fail(
                    "rig.estop_driver",
                    "GPIO%d is not a trigger output (the e-stop test pulses a trigger channel)"
                    % driver,
                )
            if driver in [out for out, _ in d["loopback"]]:
                self.fail(
                    "rig.estop_driver",
                    "GPIO%d is also a loopback output: the self-test would press the e-stop"
                    % driver,
                )


def pin_roles(board):
    """[(role, gpio)] for every assigned pin: trigger[0].., marker, inputs, status_led."""
    pins = board["pins"]
    roles = [("trigger[%d]" % i, g) for i, g in enumerate(pins["trigger"])]
    roles += [(r, pins[r]) for r in ("marker",) + INPUT_ROLES]
    if pins["status_led"] is not None:
        roles.append(("status_led", pins["status_led"]))
    return roles


def role_of(board, gpio):
    """The role name of a GPIO ("trigger[0]", "confirm_in", ...) or None."""
    for role, g in pin_roles(board):
        if g == gpio:
            return role
    return None


def pin_label(board, gpio):
    """How a user finds the pin: "GPIO2 = GP2 (pin 4)" when the board file names it."""
    label = board.get("header", {}).get(str(gpio))
    return "GPIO%d = %s" % (gpio, label) if label else "GPIO%d" % gpio


def loopback_wiring(board):
    """One line per loopback jumper, e.g. "trigger[0] GPIO2 = GP2 (pin 4) -> confirm_in ..."."""
    return [
        "%s %s -> %s %s"
        % (role_of(board, out), pin_label(board, out), role_of(board, inp), pin_label(board, inp))
        for out, inp in board["loopback"]
    ]


_SLUG = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _is_slug(name):
    return set(name) <= _SLUG and not name.startswith("_")


def _kind(value):
    return "null" if value is None else type(value).__name__
