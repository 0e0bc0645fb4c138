"""Protocol files that used to crash or hang the CLI (issue 9 item 6): deep nesting, huge
integers, FIFOs, devices, directories and oversized files. Each is refused by the real CLI
(a subprocess) with exit 2 and exactly one `tmspio: error:` line, quickly, before any board
starts. Limits: host/tmspio/protocols/parser.py; docs/protocols.md "Protocol files the CLI
refuses"."""

import copy
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proto_helpers import BASE
from tmspio.errors import InputError
from tmspio.protocols import from_dict, load_file, parser

TMSPIO = Path(sys.executable).with_name("tmspio")
ITBS = Path(parser.library.path_of("itbs"))
DIGITS_5000 = "9" * 5000
MAX = parser.MAX_PROTOCOL_BYTES

pytestmark = pytest.mark.skipif(not TMSPIO.exists(), reason="tmspio script not installed")


def _limit_memory():
    # the code before the fix read /dev/zero without end: fail with MemoryError, not swap
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def cli(*argv, cwd=None):
    """(exit code, stdout, stderr, wall seconds) of the real CLI; a hang fails after 10 s."""
    start = time.monotonic()
    try:
        p = subprocess.run(
            [str(TMSPIO), *argv],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("tmspio %s hung (no answer in 10 s)" % " ".join(argv))
    return p.returncode, p.stdout, p.stderr, time.monotonic() - start


def refused(path, tmp_path):
    """Run show, check and run --emulator on `path`; return the single error line (all three
    must give the same one, exit 2, within 5 s, and run must not start a board)."""
    out = tmp_path / "run-out"
    lines = set()
    for argv in (
        ("show", str(path)),
        ("check", str(path)),
        ("run", str(path), "--emulator", "--out", str(out)),
    ):
        code, stdout, stderr, wall = cli(*argv)
        assert code == 2, (argv, code, stderr[-2000:])
        assert stderr.endswith("\n") and stderr.count("\n") == 1, (argv, stderr[-2000:])
        assert stderr.startswith("tmspio: error: "), (argv, stderr[-2000:])
        assert "Traceback" not in stderr
        assert wall < 5, (argv, wall)
        lines.add(stderr.rstrip("\n"))
    assert not out.exists()  # failed at parsing: no run directory, no board
    assert len(lines) == 1, lines
    return lines.pop()


def protocol_data(**timing):
    data = copy.deepcopy(BASE)
    data["timing"].update(timing)
    return data


# ---- nesting --------------------------------------------------------------------------------


def test_json_nested_100000_deep(tmp_path):
    f = tmp_path / "deep.json"
    f.write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert refused(f, tmp_path) == (
        "tmspio: error: deep.json: tables and arrays nested more "
        "than 10 levels deep: at most 10 levels"
    )


@pytest.mark.parametrize(
    "value",
    ["[" * 100_000 + "]" * 100_000, "{ b = " * 20_000 + "1" + " }" * 20_000],
    ids=["arrays", "inline-tables"],
)
def test_toml_nested_deep(tmp_path, value):
    f = tmp_path / "deep.toml"
    f.write_text("a = %s\n" % value)
    assert refused(f, tmp_path) == (
        "tmspio: error: deep.toml: tables and arrays nested more "
        "than 10 levels deep: at most 10 levels"
    )


def test_nesting_that_parses_is_refused_with_the_field(tmp_path):
    f = tmp_path / "dotted.toml"  # dotted keys nest without recursion in the TOML parser
    f.write_text("a" + ".a" * 5000 + " = 1\n")
    assert refused(f, tmp_path) == (
        "tmspio: error: dotted.toml: a.a.a.a.a.a.a.a.a.a: tables "
        "and arrays nested more than 10 levels deep: at most 10 "
        "levels"
    )
    f = tmp_path / "deep.json"  # within json's recursion limit
    f.write_text('{"unverified": ' + "[" * 200 + "]" * 200 + "}")
    assert refused(f, tmp_path) == (
        "tmspio: error: deep.json: unverified.0.0.0.0.0.0.0.0.0: "
        "tables and arrays nested more than 10 levels deep: at most "
        "10 levels"
    )


def test_nesting_limit_in_the_api():
    data = copy.deepcopy(BASE)
    data["unverified"] = [[[[[[[[[[]]]]]]]]]]  # 10 levels with the top table: too deep by one
    with pytest.raises(InputError) as e:
        from_dict(data, "p.toml")
    assert str(e.value) == (
        "p.toml: unverified.0.0.0.0.0.0.0.0.0: tables and arrays nested "
        "more than 10 levels deep: at most 10 levels"
    )
    data["unverified"] = [[[[[[[[["x"]]]]]]]]]  # 10 levels: past the shape check, a type error
    with pytest.raises(InputError) as e:
        from_dict(data, "p.toml")
    assert str(e.value).startswith("p.toml: unverified.0 = ")


# ---- huge integers --------------------------------------------------------------------------


def test_json_5000_digit_integer(tmp_path):
    f = tmp_path / "big.json"
    f.write_text(
        json.dumps(protocol_data(pulses_in_burst=0)).replace(
            '"pulses_in_burst": 0', '"pulses_in_burst": ' + DIGITS_5000
        )
    )
    assert refused(f, tmp_path) == (
        "tmspio: error: big.json: timing.pulses_in_burst = an integer with more than 19 digits: "
        "integers have at most 19 digits"
    )


def test_toml_5000_digit_integer(tmp_path):
    f = tmp_path / "big.toml"
    f.write_text(
        ITBS.read_text().replace("pulses_in_burst = 3", "pulses_in_burst = " + DIGITS_5000)
    )
    assert refused(f, tmp_path) == (
        "tmspio: error: big.toml: an integer with more than 19 "
        "digits: integers have at most 19 digits"
    )


@pytest.mark.parametrize(
    "literal",
    ["1" + "0" * 30, "0x" + "f" * 5000, "-" + "9" * 20],
    ids=["31-digits", "hex", "negative"],
)
def test_toml_long_integer_that_parses_names_the_field(tmp_path, literal):
    f = tmp_path / "big.toml"
    f.write_text(ITBS.read_text().replace("bursts_in_train = 10", "bursts_in_train = " + literal))
    assert refused(f, tmp_path) == (
        "tmspio: error: big.toml: timing.bursts_in_train = an integer with more than 19 digits: "
        "integers have at most 19 digits"
    )


def test_integers_within_the_digit_limit_reach_the_model():
    """19 digits pass the shape check; the model still refuses them with the field."""
    data = copy.deepcopy(BASE)
    data["timing"]["inter_pulse_interval"] = {
        "uniform": ["1.1 s", "1.4 s"],
        "seed": 9_999_999_999_999_999_999,
    }
    with pytest.raises(InputError) as e:
        from_dict(data, "p.toml")
    assert str(e.value) == (
        "p.toml: timing.inter_pulse_interval.seed = 9999999999999999999: "
        "a number <= 9223372036854775807"
    )
    data = copy.deepcopy(BASE)
    data["intensity"] = {"percent": 10**18, "reference": "RMT"}
    with pytest.raises(InputError) as e:
        from_dict(data, "p.toml")
    assert str(e.value) == "p.toml: intensity.percent = 1000000000000000000: a number <= 300.0"
    data = copy.deepcopy(BASE)
    data["intensity"] = {"percent": 10**4000, "reference": "RMT"}  # the Python API too
    with pytest.raises(InputError) as e:
        from_dict(data, "p.toml")
    assert str(e.value) == (
        "p.toml: intensity.percent = an integer with more than 19 digits: "
        "integers have at most 19 digits"
    )


# ---- not regular files ----------------------------------------------------------------------


def test_fifo_nobody_writes_to(tmp_path):
    f = tmp_path / "fifo.toml"
    os.mkfifo(f)
    assert refused(f, tmp_path) == (
        "tmspio: error: %s: a FIFO: protocol files must be regular files" % f
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_symlink_to_dev_zero(tmp_path):
    f = tmp_path / "zero.json"
    f.symlink_to("/dev/zero")
    assert refused(f, tmp_path) == (
        "tmspio: error: %s: a character device: protocol files must be regular files" % f
    )


def test_directory(tmp_path):
    f = tmp_path / "dir.toml"
    f.mkdir()
    assert refused(f, tmp_path) == (
        "tmspio: error: %s: a directory: protocol files must be regular files" % f
    )


def test_type_is_checked_on_the_opened_descriptor(tmp_path):
    """A FIFO that a stat of the path saw as a regular file (swapped in after the check):
    opened without blocking and refused by fstat."""
    f = tmp_path / "fifo.toml"
    os.mkfifo(f)
    script = (
        "import os, stat, sys\n"
        "from tmspio import cli\n"
        "real = os.stat\n"
        "def fake(path, *a, **k):\n"
        "    st = real(path, *a, **k)\n"
        "    if os.fspath(path) == sys.argv[1]:\n"
        "        return os.stat_result((stat.S_IFREG | 0o644,) + tuple(st)[1:])\n"
        "    return st\n"
        "os.stat = fake\n"
        "sys.exit(cli.main(['show', sys.argv[1]]))\n"
    )
    try:
        p = subprocess.run(
            [sys.executable, "-c", script, str(f)],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("opening the FIFO blocked")
    assert (p.returncode, p.stderr) == (
        2,
        "tmspio: error: %s: a FIFO: protocol files must be regular files\n" % f,
    )


def test_symlink_to_a_regular_protocol_file_works(tmp_path):
    link = tmp_path / "itbs.toml"
    link.symlink_to(ITBS)
    code, stdout, stderr, _ = cli("show", str(link))
    assert (code, stderr) == (0, "")
    assert stdout.startswith("itbs: iTBS")
    assert load_file(str(link)) == load_file(str(ITBS))


# ---- size ------------------------------------------------------------------------------------


def test_file_above_the_size_limit(tmp_path):
    f = tmp_path / "big.toml"
    with open(f, "wb") as out:
        out.truncate(5 * MAX)  # sparse: 5 MiB of zero bytes
    assert MAX == 1048576
    assert refused(f, tmp_path) == (
        "tmspio: error: %s: 5242880 bytes: protocol files have at most 1048576 bytes" % f
    )


def test_size_limit_boundary(tmp_path):
    text = ITBS.read_text()
    f = tmp_path / "p.toml"
    f.write_text(text + "#" + " " * (MAX - len(text.encode()) - 2) + "\n")
    assert f.stat().st_size == MAX
    assert load_file(str(f)) == load_file(str(ITBS))
    f.write_text(text + "#" + " " * (MAX - len(text.encode()) - 1) + "\n")
    with pytest.raises(InputError) as e:
        load_file(str(f))
    assert str(e.value) == "%s: 1048577 bytes: protocol files have at most 1048576 bytes" % f


def test_file_that_grows_after_fstat_is_read_only_to_the_limit(tmp_path, monkeypatch):
    f = tmp_path / "p.toml"
    f.write_bytes(b"#" * (3 * MAX))
    real = os.fstat

    def small(fd):  # as if the file were written to between fstat and read
        st = real(fd)
        return os.stat_result(tuple(st)[:6] + (100,) + tuple(st)[7:])

    monkeypatch.setattr(os, "fstat", small)
    with pytest.raises(InputError) as e:
        parser.read_bytes(str(f))
    assert str(e.value) == (
        "%s: more than 1048576 bytes (it grew while read): protocol files have at most "
        "1048576 bytes" % f
    )
