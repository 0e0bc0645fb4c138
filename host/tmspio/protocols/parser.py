"""Read protocol files (TOML or JSON) into a Protocol; every failure is one InputError line:
<file>: <field path> = <value>: <what is allowed>.
"""

import json
import os
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


_LENGTHS = {"channels": (1, model.MAX_CHANNELS), "onsets": (1, model.MAX_PULSES)}


def _path(loc):
    return ".".join(str(p) for p in loc if p not in model.UNION_TAGS)


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
        word = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
                "less_than_equal": "<="}[kind]
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
    for part in loc[:-1]:
        if isinstance(part, int) or part in model.UNION_TAGS:
            continue
        info = cls.model_fields.get(part)
        cls = _model_in(info.annotation) if info is not None else None
        if cls is None:
            return ()
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
    return "%s: %s = %s: %s" % (source, path, _value(err.get("input")),
                                _allowed(err, _fields_at(loc)))


def from_dict(data, source="<protocol>"):
    try:
        return model.Protocol.model_validate(data)
    except ValidationError as e:
        raise InputError(format_error(source, e.errors(include_url=False)[0])) from None


def load_file(path):
    source = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e.strerror)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError("%s: byte %d: not UTF-8 text" % (source, e.start)) from None
    if path.endswith(".toml"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise InputError("%s: TOML syntax error: %s" % (source, e)) from None
    elif path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError("%s: line %d column %d: JSON syntax error: %s"
                             % (source, e.lineno, e.colno, e.msg)) from None
        if not isinstance(data, dict):
            raise InputError("%s: (top level) = %s: a JSON object" % (source, _value(data)))
    else:
        raise InputError("%s: file type %r: allowed .toml or .json"
                         % (source, os.path.splitext(path)[1] or "(none)"))
    return from_dict(data, source)


def resolve(name_or_path):
    """A library protocol name (case-insensitive) or a path to a .toml/.json file."""
    if os.path.exists(name_or_path) or name_or_path.endswith((".toml", ".json")):
        return load_file(name_or_path)
    path = library.path_of(name_or_path)
    if path is None:
        raise InputError("protocol = %s: not a file and not in the library; library: %s"
                         % (_value(name_or_path), ", ".join(library.names())))
    return load_file(path)
