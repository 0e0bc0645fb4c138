"""Site policy (a lab's list of approved protocols) and the record of every override.

The policy is a TOML file (docs/safety.md, "Site policy"), given with --policy FILE or
$TMSPIO_POLICY. A run of a protocol it does not approve, at an intensity outside the approved
range or on a stimulator it does not list, is refused (rule `site-policy`) unless overridden.
Every override a run accepts is written to the run directory (override.json: who, why, when,
protocol hash, the refusals overridden) and appended, as one JSON line, to the site log: the
policy's `log`, else $TMSPIO_SITE_LOG, else overrides.jsonl beside the run directory.
"""

import datetime
import json
import os
import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import __version__
from ..errors import InputError
from ..protocols import parser
from .core import PASS, REFERENCES, REFUSE, Finding, num

POLICY_ENV = "TMSPIO_POLICY"
SITE_LOG_ENV = "TMSPIO_SITE_LOG"
OVERRIDE_FILE = "override.json"
DEFAULT_SITE_LOG = "overrides.jsonl"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Approval(_Strict):
    protocol: str = Field(min_length=1, description="the protocol's name (its `name` field)")
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="optional: the SHA-256 of the approved protocol file, pinning its content",
    )
    reference: Literal[REFERENCES] = Field(description="RMT, AMT or MT")
    intensity: tuple[float, float] = Field(description="[lowest, highest] approved, in %")
    stimulators: list[str] | None = Field(None, description="optional: approved profile ids")
    approved_by: str = Field(min_length=1, description="who approved it (name, committee)")
    approved_on: datetime.date = Field(description="date of the approval")
    expires: datetime.date | None = Field(None, description="optional: last valid day")
    note: str = ""

    @model_validator(mode="after")
    def _range(self):
        lo, hi = self.intensity
        if not 0 < lo <= hi <= 300:
            raise ValueError("intensity: [lowest, highest] with 0 < lowest <= highest <= 300")
        return self


class Policy(_Strict):
    site: str = Field(min_length=1, description="the site's name")
    log: str | None = Field(None, description="site override log (relative: beside this file)")
    approved: list[Approval] = Field(default_factory=list)


def _where(loc):
    return ".".join(str(p) for p in loc) or "(top level)"


def load(path):
    """The policy at `path`; InputError naming file, field, value and what is allowed."""
    name = path
    try:
        raw = parser.read_bytes(path)
    except InputError as e:
        raise InputError(str(e).replace("protocol files", "policy files")) from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError("%s: byte %d: not UTF-8 text" % (name, e.start)) from None
    except tomllib.TOMLDecodeError as e:
        raise InputError("%s: TOML syntax error: %s" % (name, e)) from None
    try:
        policy = Policy.model_validate(doc)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        where = _where(err["loc"])
        if err["type"] == "missing":
            raise InputError(
                "%s: %s: required field missing (docs/safety.md, Site policy)" % (name, where)
            ) from None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        raise InputError(
            "%s: %s = %s: %s (docs/safety.md, Site policy)"
            % (name, where, json.dumps(err.get("input"), default=str), msg)
        ) from None
    return LoadedPolicy(os.path.abspath(path), policy)


class LoadedPolicy:
    def __init__(self, path, policy):
        self.path = path
        self.policy = policy

    def log_path(self):
        log = self.policy.log
        if log is None:
            return None
        return log if os.path.isabs(log) else os.path.join(os.path.dirname(self.path), log)

    def source(self):
        return "site policy %s (%s)" % (self.path, self.policy.site)

    def finding(self, protocol, declared, stimulator, sha256, today=None):
        today = today or datetime.date.today()
        entries = [a for a in self.policy.approved if a.protocol == protocol.name]
        reasons = []
        for a in entries:
            why = _mismatch(a, declared, stimulator, sha256, today)
            if why is None:
                return Finding(
                    "site-policy",
                    PASS,
                    "%s at %s on %s" % (protocol.name, declared, stimulator),
                    _show(a),
                    self.source(),
                    "approved by %s on %s" % (a.approved_by, a.approved_on),
                )
            reasons.append(why)
        if entries:
            detail = "; ".join(reasons)
            fix = "an approved range: " + "; ".join(_show(a) for a in entries)
        else:
            approved = sorted({a.protocol for a in self.policy.approved})
            detail = "%s is not an approved protocol" % protocol.name
            fix = "an approved protocol (%s)" % (", ".join(approved) or "none listed")
        return Finding(
            "site-policy",
            REFUSE,
            "%s at %s on %s" % (protocol.name, declared, stimulator),
            "; ".join(_show(a) for a in entries) or "not listed",
            self.source(),
            detail,
            fix=fix,
        )


def _show(a):
    lo, hi = a.intensity
    text = "%s at %s-%s%% %s" % (a.protocol, num(lo), num(hi), a.reference)
    if a.stimulators:
        text += " on %s" % "/".join(a.stimulators)
    return text


def _mismatch(a, declared, stimulator, sha256, today):
    lo, hi = a.intensity
    if a.expires is not None and today > a.expires:
        return "approval expired on %s" % a.expires
    if a.sha256 is not None and a.sha256 != sha256:
        return "protocol file SHA-256 %s... is not the approved %s..." % (
            sha256[:12],
            a.sha256[:12],
        )
    # a protocol with conditions: every TMS pulse's own intensity must be approved
    for d in getattr(declared, "every", None) or [declared]:
        if d is None or d.percent is None:
            return "an intensity declared in % output only, approved in %% %s" % a.reference
        if a.reference != d.reference:
            return "declared in %% %s, approved in %% %s" % (d.reference, a.reference)
        if not lo <= float(d.percent) <= hi:
            return "%s outside %s-%s%% %s" % (d, num(lo), num(hi), a.reference)
    if a.stimulators and stimulator not in a.stimulators:
        return "stimulator %s not in %s" % (stimulator, ", ".join(a.stimulators))
    return None


def from_options(path):
    """The policy file named by --policy, else $TMSPIO_POLICY, else None."""
    path = path or os.environ.get(POLICY_ENV) or None
    return None if path is None else load(path)


def site_log(policy, out_dir):
    if policy is not None and policy.log_path():
        return policy.log_path()
    env = os.environ.get(SITE_LOG_ENV)
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.abspath(out_dir)), DEFAULT_SITE_LOG)


def record(verdict, out_dir, now=None):
    """Write override.json into the run directory and append the same record to the site log;
    returns the record (None when nothing was overridden)."""
    if not verdict.overridden():
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    entry = {
        "event": "override",
        "who": verdict.operator,
        "why": verdict.override,
        "when_utc": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "protocol": verdict.protocol.name,
        "protocol_source": verdict.source,
        "protocol_sha256": verdict.sha256,
        "intensity": str(verdict.declared),
        "output_percent": None
        if verdict.declared.output is None
        else float(verdict.declared.output),
        "stimulator": verdict.stimulator,
        "site_policy": None if verdict.policy is None else verdict.policy.path,
        "run_dir": os.path.abspath(out_dir),
        "refused": [f.as_dict() for f in verdict.refused()],
        "tmspio_version": __version__,
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, OVERRIDE_FILE), "w", encoding="utf-8") as f:
        json.dump(entry, f, indent=2, ensure_ascii=False)
        f.write("\n")
    log = site_log(verdict.policy, out_dir)
    parent = os.path.dirname(os.path.abspath(log))
    os.makedirs(parent, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    return entry
