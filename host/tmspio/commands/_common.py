"""Argument helpers shared by the protocol verbs: values are checked here so a bad value is an
InputError naming the option, never an argparse traceback or a bare usage line."""

import json
import sys

from ..errors import InputError


def integer(option, text, lo, hi, what):
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not lo <= value <= hi:
        raise InputError("%s = %r: %s" % (option, text, what))
    return value


def number(option, text, what):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError("%s = %r: %s" % (option, text, what)) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError("%s = %r: %s" % (option, text, what))
    return value


def print_json(obj):
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
