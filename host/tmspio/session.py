"""One stimulation session: safety envelope, connect, load, run, log every edge, summarize.

The order is fixed: the envelope runs before any port is opened, so a refused protocol never
reaches a board. A stored self-test certificate (--selftest) is checked against the connected
board before anything is loaded or written, and copied into the run directory; the self-test
itself never runs here (its pulses would reach the stimulator). events.jsonl is written as
things happen (provenance first); pulses.csv, events.tsv/json and summary.json are written at
the end, also after Ctrl-C or a lost link.
"""

import datetime
import errno
import hashlib
import os
import subprocess
import sys

from . import __version__, board_limits, compiler, logs, safety, selftest
from .errors import DeviceError, InputError, Interrupted
from .link import HEARTBEAT_WALL_MS, LinkError, connect, wire
from .protocols import parser


class SessionError(DeviceError):
    """The run could not complete on the board."""


def prepare(protocol_name, intensity=None, stimulator=None, override=None, reference=None):
    """Parse and safety-check: (protocol, declared, findings, override_reason, source_path).
    The Python API's twin of `tmspio run`'s envelope step (intensity in % of `reference`).

    Raises InputError for bad input and SafetyRefused when the envelope refuses it."""
    protocol = parser.resolve(protocol_name)
    declared = safety.declared_intensity(protocol, intensity, reference)
    findings = safety.check(protocol, declared, stimulator)
    reason = safety.enforce(findings, override, protocol.name)
    source = source_path(protocol_name)
    return protocol, declared, findings, reason, source


def source_path(name):
    """Absolute path of a protocol file, or the library file of a library name."""
    if os.path.exists(name):
        return os.path.abspath(name)
    from .protocols import library

    return library.path_of(name)


def heartbeat_for(speed):
    """Board-side host-silence bound in board milliseconds for a given emulation speed.

    The bound is a wall-clock promise (HEARTBEAT_WALL_MS of real silence). On hardware and at
    a fixed emulation speed s the board's clock runs s times real time; at "max" it has no fixed
    ratio ("unknown": an emulated board on a port, speed not given), so the bound cannot be
    expressed in board time and is switched off (the log records heartbeat_ms 0)."""
    if speed is None:
        return HEARTBEAT_WALL_MS
    if speed in ("max", "unknown"):
        return 0
    return min(wire.MAX_HEARTBEAT_MS, max(1, round(HEARTBEAT_WALL_MS * float(speed))))


def check_out_dir(out):
    """Raise InputError if the run directory `out` could not be created; writes nothing (the
    directory is made only after the board accepted the protocol's limits)."""
    path = os.path.abspath(out)
    probe = path
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    code = None
    if probe == path and not os.path.isdir(probe):
        code = errno.EEXIST
    elif not os.path.isdir(probe):
        code = errno.ENOTDIR
    elif not os.access(probe, os.W_OK | os.X_OK):
        code = errno.EACCES
    if code is not None:
        raise _out_error(out, os.strerror(code))


def make_out_dir(out):
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise _out_error(out, e.strerror) from None


def _out_error(out, reason):
    return InputError(f"--out = {out!r}: cannot create the run directory: {reason}")


NO_CERTIFICATE_NOTICE = (
    "notice: no timing certificate is stored with this run (give "
    "--selftest FILE, written by `tmspio selftest --out FILE`)"
)


class TimingCertificate:
    """A self-test certificate file to keep with a run: the exact bytes read, checked against
    the connected board (name, firmware, verdict, age) before the run loads anything."""

    def __init__(self, path, max_age_s):
        self.path = path
        self.max_age_s = max_age_s
        self.age_s = None
        try:
            with open(path, "rb") as f:
                self.data = f.read()
            self.cert = selftest.parse_certificate(self.data, path)
        except OSError as e:
            raise InputError(
                f"--selftest {path}: not a readable self-test certificate: {e.strerror}"
            ) from None
        except InputError as e:
            raise InputError(f"--selftest {e}") from None
        self.sha256 = hashlib.sha256(self.data).hexdigest()

    def check(self, board_name, firmware_version, now_utc):
        """Raise InputError naming the file and every reason it does not vouch for this run."""
        problems = selftest.certificate_problems(
            self.cert, board_name, firmware_version, now_utc, self.max_age_s
        )
        if problems:
            raise InputError(f"--selftest {self.path}: " + "; ".join(problems))
        # whole seconds: created_utc has 1 s resolution
        self.age_s = int((now_utc - selftest.created_at(self.cert)).total_seconds())

    def store(self, out_dir):
        with open(os.path.join(out_dir, logs.SELFTEST), "wb") as f:
            f.write(self.data)

    def provenance(self):
        c = self.cert
        return {
            "source": os.path.abspath(self.path),
            "sha256": self.sha256,
            "verdict": c["verdict"],
            "created_utc": c["created_utc"],
            "summary": c["summary"],
        }

    def summary(self):
        return {
            "file": logs.SELFTEST,
            "sha256": self.sha256,
            "verdict": self.cert["verdict"],
            "age_s": self.age_s,
        }


class Run:
    """Runs one compiled protocol over an open Link, writing the run directory as it goes."""

    def __init__(
        self,
        link,
        protocol,
        out_dir,
        source=None,
        findings=(),
        override=None,
        speed=None,
        show_progress=True,
        board_name=None,
        declared=None,
        certificate=None,
    ):
        self.link = link
        self.protocol = protocol
        self.out_dir = out_dir
        self.source = source
        self.findings = list(findings)
        self.override = override
        self.speed = speed
        self.show_progress = show_progress
        self.board_name = board_name
        self.declared = declared  # safety.Declared: the intensity the operator declared
        self.certificate = certificate  # TimingCertificate or None
        self.compiled = None
        self.summary = None
        self.log = None
        self._bar = None

    def execute(self):
        info = self.link.info
        emulated = info.get("platform", "rp2") != "rp2"
        if not emulated and self.speed is not None:
            raise InputError(
                f"--speed: the board on {self.link.port} is real hardware "
                f"({info.get('board')}); it runs in real time"
            )
        if emulated and self.speed is None:
            # the board says how its clock runs against real time ("max": no fixed ratio)
            self.speed = info.get("speed") or "unknown"
        if self.certificate is not None:
            self.certificate.check(
                info.get("board"), info.get("firmware"), datetime.datetime.now(datetime.UTC)
            )
        self.link.require_at_rest()
        self.compiled = compiler.compile_protocol(self.protocol, int(info["sysclk_hz"]))
        # the board's own limits (hello), before the run directory or any log is written; the
        # board checks them again at load whatever the host sends
        board_limits.check(
            self.compiled, info.get("limits") or {}, self.board_name or info.get("board")
        )
        data = self.compiled.encode()
        make_out_dir(self.out_dir)
        for name in (
            logs.EVENTS,
            logs.PULSES,
            logs.BIDS_TSV,
            logs.BIDS_JSON,
            logs.SUMMARY,
            logs.SELFTEST,
        ):
            path = os.path.join(self.out_dir, name)
            if os.path.exists(path):
                os.remove(path)
        if self.certificate is not None:
            self.certificate.store(self.out_dir)
        else:
            print(NO_CERTIFICATE_NOTICE, file=sys.stderr)
        self.log = logs.EventLog(os.path.join(self.out_dir, logs.EVENTS))
        hb = heartbeat_for(self.speed)
        self.log.write("provenance", **self._provenance(data, hb))
        for f in self.findings:
            self.log.write("safety", **f.as_dict())
        aborted, reason = True, None
        try:
            sha = self.link.load(data)
            # the board's echo: SHA-256 of the bytes it stored, equal to program_sha256
            self.log.write(
                "loaded",
                bytes=len(data),
                board_sha256=sha,
                segments=self.compiled.program.segment_count(),
            )
            self._idle = {ch.index: ch.idle_level for ch in self.compiled.program.channels}
            self._zero = None  # capture cycle of the first onset (progress display only)
            self.link.on_edges = self._edges
            self.link.on_state = lambda st: self.log.write("state", **st)
            self.link.on_fault = self._fault
            self._open_bar()
            self.link.run(hb)
            self.log.write("started", utc=_utc(), heartbeat_ms=hb)
            mode = self.protocol.start.mode
            if mode != "immediate" and self.show_progress:
                print(
                    f"armed: waiting for the external trigger ({mode} start) on the board's "
                    "trigger input; Ctrl-C cancels",
                    file=sys.stderr,
                )
            final = self.link.wait()
            aborted = final.get("state") != "done"
            reason = final.get("reason")
        except KeyboardInterrupt:
            reason = "operator interrupt (Ctrl-C)"
            error = self._stop(reason)
            self._finish(True, reason)
            if error is None:
                raise Interrupted(
                    "run stopped by Ctrl-C; outputs idle; log in " + self.out_dir
                ) from None
            raise Interrupted(
                f"Ctrl-C: the board did not confirm the stop ({error}); "
                f"its heartbeat bound ({hb} ms, 0 = off) stops a run the host "
                f"left; log in {self.out_dir}"
            ) from None
        except LinkError as e:
            reason = f"link: {e}"
            self._stop(reason)  # the link may still carry a stop (e.g. the log write failed)
            self._finish(True, reason)
            raise
        self._finish(aborted, reason)
        return self.summary

    def _stop(self, reason):
        """Ask the board to stop; None when it confirmed, else the error text."""
        try:
            st = self.link.stop(reason)
        except LinkError as e:
            self.log.write("stop_failed", error=str(e))
            return str(e)
        self.log.write("stopped", **st)
        return None

    def _provenance(self, data, hb):
        info = self.link.info
        src = self.source
        sha = None
        if src and os.path.exists(src):
            with open(src, "rb") as f:
                sha = hashlib.sha256(f.read()).hexdigest()
        return {
            "tmspio_version": __version__,
            "firmware_version": info.get("firmware"),
            "wire_version": info.get("wire"),
            "board": self.board_name or info.get("board"),
            "chip": info.get("chip"),
            "port": self.link.port,
            "sysclk_hz": info.get("sysclk_hz"),
            "protocol": self.protocol.name,
            "protocol_source": src,
            "protocol_sha256": sha,
            "program_sha256": hashlib.sha256(data).hexdigest(),
            "seed": _seeds(self.protocol),
            "draws": [d.as_dict() for d in self.compiled.schedule.draws],
            "intensity": None if self.declared is None else str(self.declared),
            "stimulator": self.protocol.stimulator,
            "safety_override": self.override,
            "heartbeat_ms": hb,
            "emulator_speed": self.speed,
            "selftest": None if self.certificate is None else self.certificate.provenance(),
            "utc_start": _utc(),
            "host": {
                "python": sys.version.split()[0],
                "platform": sys.platform,
                "tmspio_git": _git_revision(),
            },
        }

    def _fault(self, fault):
        """A fault the board or the link reported: logged, and said on the console at once."""
        self.log.write("fault", **fault)
        text = f"fault ({fault.get('code')}): {fault.get('text')}"
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def _open_bar(self):
        if not self.show_progress:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=self.compiled.pulses(),
            unit="pulse",
            desc=self.protocol.name,
            dynamic_ncols=True,
            leave=True,
            file=sys.stderr,
        )

    def _edges(self, recs):
        n = 0
        for source, level, cycle in recs:
            self.log.write(
                "edge", source=wire.SOURCE_NAMES.get(source, str(source)), level=level, cycle=cycle
            )
            if source in self._idle and level != self._idle[source]:
                n += 1
                if self._zero is None:
                    self._zero = cycle - self.compiled.channel_cycles[0][0]
        if self._bar is not None and n:
            c = self.compiled
            done = float(max(0, recs[-1][2] - self._zero) / c.sysclk_hz)
            self._bar.set_postfix_str(
                f"board {done:.1f} of {float(c.duration()):.1f} s", refresh=False
            )
            self._bar.update(n)

    def _finish(self, aborted, reason):
        self.link.on_edges = self.link.on_state = self.link.on_fault = None  # log closes below
        if self._bar is not None:
            self._bar.close()
        c = self.compiled
        status = {}
        try:
            status = self.link.status()
        except LinkError as e:
            self.log.write("status_failed", error=str(e))
        start, reference = _start_cycle(status, self.link.last_state)
        edges = list(self.link.edges)
        planned, start, reference, laid = self._plan(start, reference, edges)
        rows = logs.match_pulses(
            planned,
            self._idle_levels(),
            start,
            edges,
            c.sysclk_hz,
            confirm_source=wire.SRC_CONFIRM,
            confirm_channel=c.confirm_channel,
        )
        names = {i: ch.name for i, ch in enumerate(self.protocol.channels)}
        logs.write_pulses(os.path.join(self.out_dir, logs.PULSES), rows, names)
        logs.write_bids(
            os.path.join(self.out_dir, logs.BIDS_TSV),
            os.path.join(self.out_dir, logs.BIDS_JSON),
            rows,
            names,
            c.protocol.pulse_width,
        )
        extra = {
            "protocol": self.protocol.name,
            "board_pulses_delivered": status.get("pulses_delivered"),
            "start_cycle": start,
            "timing_reference": reference,
            **laid,
            "sysclk_hz": c.sysclk_hz,
            "faults": list(self.link.faults),
            "board_errors": [list(e) for e in self.link.board_errors],
            "out_dir": os.path.abspath(self.out_dir),
            "selftest": None if self.certificate is None else self.certificate.summary(),
        }
        self.summary = logs.summarize(
            rows, aborted, reason, extra, confirm_channel=names[c.confirm_channel]
        )
        self.log.write("summary", **self.summary)
        self.log.close()
        logs.write_json(os.path.join(self.out_dir, logs.SUMMARY), self.summary)

    def _idle_levels(self):
        return {ch.index: ch.idle_level for ch in self.compiled.program.channels}

    def _plan(self, start, reference, edges):
        """(planned onsets per channel index, their time zero on the capture clock,
        timing_reference, extra summary fields).

        Immediate start: the compiled onsets after the start event, as they are. Trigger and
        gated starts: the compiled onsets are only the densest case (one train per refractory
        interval), so the plan is laid on the accepted trigger edges instead
        (logs.trigger_plan); a pulse whose trigger never came has no planned onset."""
        c = self.compiled
        mode = self.protocol.start.mode
        if mode == "immediate":
            return (
                {ch.index: cyc for ch, cyc in zip(c.program.channels, c.channel_cycles)},
                start,
                reference,
                {},
            )
        planned, info = logs.trigger_plan(
            c.program,
            start,
            edges,
            trigger_source=wire.SRC_TRIGGER_IN,
            trigger_level=_trigger_in_level(self.board_name or self.link.info.get("board")),
        )
        if start is not None and info["start_cycle"] == start:
            reference = (
                "time zero (start_cycle, reported by the board) is its first captured "
                "onset minus that channel's delay; " + info["timing_reference"]
            )
        else:
            reference = info["timing_reference"]
        laid = {
            "start_mode": mode,
            "accepted_triggers": info["accepted_triggers"],
            "trigger_edges_captured": info["trigger_edges_captured"],
        }
        return planned, info["start_cycle"], reference, laid


def _trigger_in_level(board_name):
    """The wire level of an active trigger_in edge: 0 on a board whose trigger_in is
    falling-edge (board file polarity), else 1."""
    from .boards import BoardError, load_board

    try:
        polarity = load_board(board_name)["polarity"]["trigger_in"]
    except (BoardError, KeyError, TypeError):
        return 1
    return 0 if polarity == "falling" else 1


def _start_cycle(status, last_state):
    """(cycle of the start event on the capture clock, how it is known).

    The engine reports `start_cycle` once it knows it; without it the deviations stay unknown
    rather than guessed."""
    for st in (status, last_state or {}):
        if st.get("start_cycle") is not None:
            return st["start_cycle"], (
                "start_cycle reported by the board; the RP2040 engine derives it from the "
                "first captured onset (docs/architecture.md §5), so that pulse's deviation is "
                "0 by definition and every other pulse is measured against it"
            )
    return None, "start event cycle not reported by the board: deviations unknown"


def _seeds(protocol):
    seeds = []
    t = protocol.timing
    if t is not None:
        for name in ("inter_pulse_interval", "inter_burst_interval", "inter_train_interval"):
            seed = getattr(getattr(t, name, None), "seed", None)
            if seed is not None:
                seeds.append({"field": f"timing.{name}", "seed": seed})
    return seeds


def _git_revision():
    """Commit of the tmspio checkout running this (with "+dirty"), or None if not a checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(
            ["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _utc():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def open_board(port=None, emulator=False, speed="max", hello_timeout=None, scale=None):
    """(link, emulated_board_or_None). The emulated board is powered off by close_board().
    scale: factor for every link timeout (None: $TMSPIO_TIMEOUT_SCALE or 1)."""
    board = None
    if emulator:
        from .emulator.serial_board import SerialBoard

        board = SerialBoard(speed=speed)
        port = board.start()
    try:
        link = connect(port, hello_timeout=hello_timeout or (20 if emulator else 3), scale=scale)
    except BaseException:
        if board is not None:
            board.close()
        raise
    return link, board


def close_board(link, board):
    try:
        if link is not None:
            link.close()
    finally:
        if board is not None:
            board.close()
