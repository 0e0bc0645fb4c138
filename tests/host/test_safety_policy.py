"""Site policy and override records (issue 10, point 9), and the one refusal check and run
share (safety.judge)."""

import datetime
import json
import os

import pytest
from tmspio import cli, safety
from tmspio.errors import InputError, SafetyRefused

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs")
EXAMPLE = os.path.join(DOCS, "site-policy.example.toml")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, text, name="policy.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def policy_rule(verdict):
    (f,) = [f for f in verdict.findings if f.rule == "site-policy"]
    return f


def test_the_documented_example_loads():
    pol = safety.load_policy(EXAMPLE)
    assert pol.policy.site == "Example lab, TMS room 2"
    assert [a.protocol for a in pol.policy.approved] == ["itbs", "rtms-10hz"]
    assert pol.log_path() == os.path.join(os.path.dirname(pol.path), "tmspio-overrides.jsonl")


def test_an_approved_protocol_in_range_passes(monkeypatch):
    monkeypatch.setattr(datetime, "date", _Today)
    v = safety.evaluate("itbs", {"policy": EXAMPLE, "stimulator": "magstim-rapid2"})
    f = policy_rule(v)
    assert (f.outcome, f.kind, f.value) == ("pass", "safety", "itbs at 80% AMT on magstim-rapid2")
    assert f.limit == "itbs at 70-80% AMT on magstim-rapid2"
    assert f.detail == "approved by Ethics committee 2026-17 (Dr A. Example) on 2026-03-01"
    assert v.refused() == []


class _Today(datetime.date):
    @classmethod
    def today(cls):
        return datetime.date(2026, 6, 1)


@pytest.mark.parametrize(
    "options, detail",
    [
        ({"intensity": 85, "stimulator": "magstim-rapid2"}, "85% AMT outside 70-80% AMT"),
        ({"intensity": 75, "reference": "RMT", "stimulator": "magstim-rapid2"},
         "declared in % RMT, approved in % AMT"),
        ({"stimulator": "magstim-rapid2-dual"},
         "stimulator magstim-rapid2-dual not in magstim-rapid2"),
    ],
)  # fmt: skip
def test_outside_the_approval_is_refused_naming_the_range(monkeypatch, options, detail):
    monkeypatch.setattr(datetime, "date", _Today)
    v = safety.evaluate("itbs", dict(options, policy=EXAMPLE))
    f = policy_rule(v)
    assert (f.outcome, f.detail) == ("refuse", detail)
    assert f.fix == "an approved range: itbs at 70-80% AMT on magstim-rapid2"
    with pytest.raises(SafetyRefused):
        v.enforce(announce=False)


def test_an_unlisted_protocol_and_an_expired_approval_are_refused(monkeypatch):
    monkeypatch.setattr(datetime, "date", _Today)
    f = policy_rule(safety.evaluate("ctbs600", {"policy": EXAMPLE}))
    assert (f.outcome, f.limit, f.detail) == (
        "refuse",
        "not listed",
        "ctbs600 is not an approved protocol",
    )
    assert f.fix == "an approved protocol (itbs, rtms-10hz)"

    class Later(datetime.date):
        @classmethod
        def today(cls):
            return datetime.date(2027, 3, 2)

    monkeypatch.setattr(datetime, "date", Later)
    v = safety.evaluate("itbs", {"policy": EXAMPLE, "stimulator": "magstim-rapid2"})
    assert policy_rule(v).detail == "approval expired on 2027-03-01"


def test_a_pinned_hash_must_match(tmp_path, monkeypatch):
    monkeypatch.setattr(datetime, "date", _Today)
    text = open(EXAMPLE).read().replace('# sha256 = "..."', 'sha256 = "%s"' % ("0" * 64))
    mt = {"intensity": 120, "reference": "MT"}
    v = safety.evaluate("rtms-10hz", dict(mt, policy=write(tmp_path, text)))
    assert policy_rule(v).detail.startswith("protocol file SHA-256 ")
    text = open(EXAMPLE).read().replace('# sha256 = "..."', 'sha256 = "%s"' % v.sha256)
    v = safety.evaluate("rtms-10hz", dict(mt, policy=write(tmp_path, text)))
    assert policy_rule(v).outcome == "pass"


@pytest.mark.parametrize(
    "text, error",
    [
        ("site = \n", "TOML syntax error: "),
        ('log = "x"\n', "site: required field missing (docs/safety.md, Site policy)"),
        ('site = "x"\ncolour = 1\n', "colour = 1: unknown field (docs/safety.md, Site policy)"),
        (
            'site = "x"\n[[approved]]\nprotocol = "itbs"\nreference = "AMT"\nintensity = [90, 80]\n'
            'approved_by = "me"\napproved_on = 2026-01-01\n',
            "approved.0 = {",
        ),
        (
            'site = "x"\n[[approved]]\nprotocol = "itbs"\nreference = "amt"\nintensity = [70, 80]\n'
            'approved_by = "me"\napproved_on = 2026-01-01\n',
            "approved.0.reference = \"amt\": Input should be 'RMT', 'AMT' or 'MT'",
        ),
        (
            'site = "x"\n[[approved]]\nprotocol = "itbs"\nreference = "AMT"\nintensity = [70, 80]\n'
            "approved_on = 2026-01-01\n",
            "approved.0.approved_by: required field missing (docs/safety.md, Site policy)",
        ),
    ],
)
def test_a_malformed_policy_is_one_clear_line(capsys, tmp_path, text, error):
    path = write(tmp_path, text)
    code, out, err = run(capsys, "check", "itbs", "--policy", path)
    assert (code, out) == (2, "")
    assert err.startswith("tmspio: error: %s: %s" % (path, error)), err
    assert err.count("\n") == 1
    code, _, err = run(capsys, "check", "itbs", "--policy", str(tmp_path / "none.toml"))
    assert err == "tmspio: error: %s: cannot read: No such file or directory\n" % (
        tmp_path / "none.toml"
    )


def test_the_range_error_names_the_rule(tmp_path):
    path = write(
        tmp_path,
        'site = "x"\n[[approved]]\nprotocol = "itbs"\nreference = "AMT"\nintensity = [90, 80]\n'
        'approved_by = "me"\napproved_on = 2026-01-01\n',
    )
    with pytest.raises(InputError) as e:
        safety.load_policy(path)
    assert str(e.value).endswith(
        "intensity: [lowest, highest] with 0 < lowest <= highest <= 300 (docs/safety.md, Site "
        "policy)"
    )


def test_the_policy_comes_from_the_environment_too(capsys, monkeypatch):
    monkeypatch.setattr(datetime, "date", _Today)
    monkeypatch.setenv("TMSPIO_POLICY", EXAMPLE)
    code, out, err = run(capsys, "check", "ctbs600")
    assert code == 3
    assert (
        "  REFUSE safety site-policy: ctbs600 at 80% AMT on generic-ttl; limit not listed" in out
    )


# ---- override records -------------------------------------------------------------------


def test_an_override_is_recorded_in_the_run_directory_and_the_site_log(tmp_path, monkeypatch):
    monkeypatch.delenv("TMSPIO_SITE_LOG", raising=False)
    v = safety.judge(
        "rtms-10hz",
        {"intensity": 130, "override": "IRB 2026-17 approves 130%", "operator": "Dr B"},
        report=False,
    )
    assert v.override == "IRB 2026-17 approves 130%"
    out_dir = tmp_path / "runs" / "one"
    out_dir.mkdir(parents=True)
    when = datetime.datetime(2026, 12, 3, 7, 0, tzinfo=datetime.UTC)
    entry = safety.policy.record(v, str(out_dir), now=when)
    saved = json.loads((out_dir / "override.json").read_text())
    assert saved == entry
    assert (saved["who"], saved["why"], saved["when_utc"]) == (
        "Dr B",
        "IRB 2026-17 approves 130%",
        "2026-12-03T07:00:00.000000Z",
    )
    assert saved["protocol_sha256"] == v.sha256 and len(v.sha256) == 64
    assert [f["rule"] for f in saved["refused"]] == ["wassermann-train-duration"]
    log = tmp_path / "runs" / "overrides.jsonl"
    assert [json.loads(line) for line in log.read_text().splitlines()] == [saved]
    safety.policy.record(v, str(out_dir), now=when)  # appended, never rewritten
    assert len(log.read_text().splitlines()) == 2


def test_nothing_is_recorded_without_an_override(tmp_path):
    v = safety.judge("rtms-10hz", {}, report=False)
    assert v.record(str(tmp_path)) is None
    assert list(tmp_path.iterdir()) == []


def test_the_site_log_is_the_policys_then_the_environments(tmp_path, monkeypatch):
    monkeypatch.setenv("TMSPIO_SITE_LOG", str(tmp_path / "site.jsonl"))
    v = safety.judge("rtms-10hz", {"intensity": 130, "override": "x"}, report=False)
    v.record(str(tmp_path / "run"))
    assert len((tmp_path / "site.jsonl").read_text().splitlines()) == 1
    policy = write(tmp_path, 'site = "lab"\nlog = "lab-log.jsonl"\n')
    v = safety.judge(
        "rtms-10hz", {"intensity": 130, "override": "x", "policy": policy}, report=False
    )
    v.record(str(tmp_path / "run"))
    assert len((tmp_path / "lab-log.jsonl").read_text().splitlines()) == 1


def test_run_records_the_override_with_the_run(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("TMSPIO_SITE_LOG", raising=False)
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(
        'name = "tiny"\nfamily = "custom"\npulse_width = "1 ms"\n'
        'channels = [{ name = "tms", polarity = "active-high" }]\n'
        'intensity = { percent = 50, reference = "RMT" }\n'
        '[timing]\ninter_pulse_interval = "100 ms"\npulses_in_burst = 3\n'
    )
    out_dir = tmp_path / "runs" / "tiny"
    argv = ["run", str(tiny), "--emulator", "--quiet", "--out", str(out_dir)]
    code, out, err = run(capsys, *argv)
    assert code == 3 and not (tmp_path / "runs").exists()
    code, out, err = run(capsys, *argv, "--override", "bench check of the trigger path",
                         "--operator", "J. Tester")  # fmt: skip
    assert code == 0, err
    assert "OVERRIDDEN by the operator: bench check of the trigger path" in out.splitlines()
    saved = json.loads((out_dir / "override.json").read_text())
    assert (saved["who"], saved["why"], saved["protocol"]) == (
        "J. Tester",
        "bench check of the trigger path",
        "tiny",
    )
    assert saved["protocol_source"] == str(tiny)
    import hashlib

    assert saved["protocol_sha256"] == hashlib.sha256(tiny.read_bytes()).hexdigest()
    log = (tmp_path / "runs" / "overrides.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_dir"] for line in log] == [str(out_dir)]


# ---- check and run refuse identically ---------------------------------------------------


def test_check_and_run_print_the_same_report_and_refusal(capsys, tmp_path):
    probe = tmp_path / "probe.toml"
    probe.write_text(
        'name = "probe"\nfamily = "rtms"\npulse_width = "1 ms"\n'
        'channels = [{ name = "tms", polarity = "active-high" }]\n'
        "[timing]\n"
        'inter_pulse_interval = "20 Hz"\npulses_in_burst = 40\n'
        'inter_train_interval = "2 s"\ntrains_in_protocol = 100\n'
    )
    opts = ("--intensity", "90", "--reference", "MT")
    c = run(capsys, "check", str(probe), *opts)
    r = run(capsys, "run", str(probe), *opts, "--port", "/dev/tmspio-no-such-port")
    assert c == r
    code, out, err = c
    assert code == 3
    assert out.splitlines()[0] == (
        "probe at 90% MT on generic-ttl: REFUSED (8 rules, 1 refused, 5 warnings)"
    )
    assert err == (
        "tmspio: error: probe refused by the safety envelope (1 rule); --override "
        '"reason" runs it anyway and logs the reason\n'
    )
    assert (
        "  REFUSE safety wassermann-train-duration: train 200 s at 20 Hz, 90% MT (100 trains "
        "judged as one: pauses under 5 s); limit 2.05 s"
    ) in out
