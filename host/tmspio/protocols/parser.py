"""Read protocol files (TOML or JSON) into a Protocol; every failure is one InputError line:
<file>: <field path> = <value>: <what is allowed>.

Hostile files are refused before they can crash or hang the CLI (docs/protocols.md, "Protocol
files the CLI refuses"): only regular files are read (a FIFO, a device or a directory is refused
on the opened descriptor, never read), at most MAX_PROTOCOL_BYTES, tables and arrays nested at
most MAX_NESTING deep and integers of at most MAX_INT_DIGITS digits.
"""

import json
import os
import stat
import tomllib

from pydantic import ValidationError

from ..errors import InputError
from . import library, model

_FRIENDLY = {
    "missing": "required field missing",
    "extra_forbidden": "unknown field",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list of two intervals",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}


MAX_PROTOCOL_BYTES = 1 << 20  # 1 MiB; the largest library file is a few kB
MAX_NESTING = 10  # tables and arrays; the deepest valid protocol nests 5
# (conditions.*.pulses.*.intensity)
MAX_INT_DIGITS = 19  # a 64-bit integer (TOML's range); the largest field, seed, is <= 2**63 - 1

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

_LENGTHS = {"channels": (1, model.MAX_CHANNELS), "onsets": (1, model.MAX_PULSES)}


def _path(loc):
    return ".".join(str(p) for p in loc if p not in model.UNION_TAGS)


class _HugeInt:
    """A JSON integer with more than MAX_INT_DIGITS digits, never converted: int() refuses
    more than 4300 digits (sys.int_info) and is quadratic below that."""


def _json_int(text):
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= MAX_INT_DIGITS else _HugeInt()


def _too_big(value):
    if isinstance(value, _HugeInt):
        return True
    return isinstance(value, int) and (value.bit_length() > 64 or abs(value) >= 10**MAX_INT_DIGITS)


def _check_shape(source, data):
    """Refuse nesting deeper than MAX_NESTING and integers longer than MAX_INT_DIGITS digits,
    naming the field; iterative, so no structure can exhaust the stack here."""
    stack = [(data, (), 0)]
    while stack:
        value, loc, depth = stack.pop()
        if _too_big(value):
            raise InputError(
                "%s: %s = an integer with more than %d digits: integers have at "
                "most %d digits"
                % (source, _path(loc) or "(top level)", MAX_INT_DIGITS, MAX_INT_DIGITS)
            )
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        else:
            continue
        if depth == MAX_NESTING:
            raise InputError(
                "%s: %s: tables and arrays nested more than %d levels deep: at most "
                "%d levels" % (source, _path(loc) or "(top level)", MAX_NESTING, MAX_NESTING)
            )
        stack.extend((v, loc + (k,), depth + 1) for k, v in reversed(items))


def _value(value):
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list | int | float | bool) or value is None:
        return json.dumps(value, ensure_ascii=False, default=str)
    return repr(value)


def _allowed(err, model_fields=None):
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown field; allowed here: %s" % ", ".join(model_fields or ())
    if kind == "literal_error":
        return "one of %s" % ctx.get("expected", "")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        word = {
            "greater_than": ">",
            "greater_than_equal": ">=",
            "less_than": "<",
            "less_than_equal": "<=",
        }[kind]
        bound = next(v for k, v in ctx.items() if k in ("gt", "ge", "lt", "le"))
        return "a number %s %s" % (word, bound)
    if kind == "string_pattern_mismatch":
        return "text matching %s" % ctx.get("pattern")
    if kind in ("too_short", "too_long"):
        lo, hi = _LENGTHS.get(_path(err["loc"]).split(".")[-1], ("", ""))
        return "%s to %s items" % (lo, hi) if lo else err["msg"][0].lower() + err["msg"][1:]
    return _FRIENDLY.get(kind, err["msg"])


def _model_in(annotation):
    """The pydantic model class inside an annotation (Optional, list, union, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, model.BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) + getattr(annotation, "__metadata__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(loc):
    """Allowed field names of the model that owns `loc` (for 'unknown field' errors)."""
    cls = model.Protocol
    keyed = False  # the previous field is a table keyed by name (conditions.*.pulses)
    for part in loc[:-1]:
        if isinstance(part, int) or part in model.UNION_TAGS or keyed:
            keyed = False
            continue
        info = cls.model_fields.get(part)
        cls = _model_in(info.annotation) if info is not None else None
        if cls is None:
            return ()
        keyed = getattr(info.annotation, "__origin__", None) is dict
    return list(cls.model_fields)


def format_error(source, err):
    """One pydantic error dict -> 'file: path = value: allowed'."""
    ctx = err.get("ctx") or {}
    loc = tuple(err["loc"])
    if "path" in ctx:  # cross-field rule: the validator names the field itself
        path = _path(loc + tuple(p for p in ctx["path"].split(".") if p)) or "(top level)"
        if ctx["value"] is None:
            return "%s: %s: %s" % (source, path, ctx["allowed"])
        return "%s: %s = %s: %s" % (source, path, _value(ctx["value"]), ctx["allowed"])
    path = _path(loc) or "(top level)"
    if err["type"] == "missing":
        return "%s: %s: required field missing" % (source, path)
    return "%s: %s = %s: %s" % (
        source,
        path,
        _value(err.get("input")),
        _allowed(err, _fields_at(loc)),
    )


def from_dict(data, source="<protocol>"):
    _check_shape(source, data)
    try:
        return model.Protocol.model_validate(data)
    except ValidationError as e:
        raise InputError(format_error(source, e.errors(include_url=False)[0])) from None


def _kind(mode):
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_bytes(path):
    """The bytes of a regular file of at most MAX_PROTOCOL_BYTES, else InputError naming `path`.

    The file type and size are checked on the opened descriptor (fstat), so a path swapped
    after a check cannot slip a FIFO or a device in; a symlink to a regular file is followed.
    O_NONBLOCK: opening a FIFO nobody writes to returns at once instead of blocking. A stat of
    the path first refuses the usual non-files without opening them at all (opening a serial
    device can toggle its modem lines)."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise InputError("%s: %s: protocol files must be regular files" % (path, _kind(mode)))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e.strerror)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(
                "%s: %s: protocol files must be regular files" % (path, _kind(st.st_mode))
            )
        too_big = "%s: %d bytes: protocol files have at most %d bytes"
        if st.st_size > MAX_PROTOCOL_BYTES:
            raise InputError(too_big % (path, st.st_size, MAX_PROTOCOL_BYTES))
        chunks, size = [], 0
        while size <= MAX_PROTOCOL_BYTES:  # the file may have grown since fstat
            chunk = os.read(fd, MAX_PROTOCOL_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_PROTOCOL_BYTES:
            raise InputError(
                "%s: more than %d bytes (it grew while read): protocol files have at most %d "
                "bytes" % (path, MAX_PROTOCOL_BYTES, MAX_PROTOCOL_BYTES)
            )
        return b"".join(chunks)
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e.strerror)) from None
    finally:
        os.close(fd)


def _too_deep(source):
    return InputError(
        "%s: tables and arrays nested more than %d levels deep: at most %d levels"
        % (source, MAX_NESTING, MAX_NESTING)
    )


def load_file(path):
    source = os.path.basename(path)
    if not path.endswith((".toml", ".json")):
        raise InputError(
            "%s: file type %r: allowed .toml or .json"
            % (source, os.path.splitext(path)[1] or "(none)")
        )
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError("%s: byte %d: not UTF-8 text" % (source, e.start)) from None
    # Parsing recurses per nesting level: RecursionError only happens far beyond MAX_NESTING
    # (about 300 levels), which _check_shape enforces on whatever parses.
    if path.endswith(".toml"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise InputError("%s: TOML syntax error: %s" % (source, e)) from None
        except RecursionError:
            raise _too_deep(source) from None
        except ValueError:  # int(): more digits than Python converts (sys.int_info)
            raise InputError(
                "%s: an integer with more than %d digits: integers have at most %d "
                "digits" % (source, MAX_INT_DIGITS, MAX_INT_DIGITS)
            ) from None
    else:
        try:
            data = json.loads(text, parse_int=_json_int)
        except json.JSONDecodeError as e:
            raise InputError(
                "%s: line %d column %d: JSON syntax error: %s" % (source, e.lineno, e.colno, e.msg)
            ) from None
        except RecursionError:
            raise _too_deep(source) from None
        if not isinstance(data, dict):
            _check_shape(source, data)
            raise InputError("%s: (top level) = %s: a JSON object" % (source, _value(data)))
    return from_dict(data, source)


def resolve(name_or_path):
    """A library protocol name (case-insensitive) or a path to a .toml/.json file."""
    if os.path.exists(name_or_path) or name_or_path.endswith((".toml", ".json")):
        return load_file(name_or_path)
    path = library.path_of(name_or_path)
    if path is None:
        raise InputError(
            "protocol = %s: not a file and not in the library; library: %s"
            % (_value(name_or_path), ", ".join(library.names()))
        )
    return load_file(path)
