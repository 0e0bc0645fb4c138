# Firmware command loop: wire frames from the host on stdin (USB CDC), replies and captured
# edges on stdout. It calls only the Engine API (docs/architecture.md §5) and enforces the
# session order hello -> load -> arm -> start itself, so no byte sequence reaches engine.start()
# without a verified program. Every byte on the port is data while this loop runs (Ctrl-C
# included): only the framed, CRC-checked maintenance request, at rest, ends it and hands the
# port to the REPL. docs/wire-protocol.md is the reference for every rule here.
import gc
import hashlib
import json
import sys

import wire

try:
    import time

    _ticks_ms = time.ticks_ms
    _ticks_us = time.ticks_us
    _ticks_diff = time.ticks_diff
except AttributeError:  # CPython without the stand-in: only used by host-side unit tests
    import time

    def _ticks_ms():
        return int(time.monotonic() * 1000)

    def _ticks_us():
        return int(time.monotonic() * 1000000)

    def _ticks_diff(a, b):
        return a - b


try:
    import micropython
except ImportError:  # CPython host-side tests
    micropython = None

FIRMWARE_VERSION = "0.3.0"
DEFAULT_HEARTBEAT_MS = 1000  # host silence while armed/running that aborts the run
FRAME_TIMEOUT_MS = 250  # a frame whose bytes stop arriving for this long is dropped
MAX_PROGRAM_BYTES = 1 << 20  # unless the board file's limits say otherwise
RUN_POLL_MS = 20  # loop period while armed/running: edges drained, heartbeat checked
IDLE_POLL_MS = 50
READ_BURST = 1024  # bytes read per loop iteration before the engine is serviced again
PROGRESS_MS = 250  # while a request keeps the board busy, a PROGRESS frame at least this often
PROGRESS_CALLS = 8  # ... or every 8 progress calls (8192 onsets checked)
MAINTENANCE = "maintenance"  # what run() returns when the host asked for the REPL
_CTRL_C = 3
# The state SYNC and FIRE add lives here, allocated at import, not on the Service instance:
# more attributes there grow its member table inside the heap a program is loaded into (on the
# firmware before SYNC/FIRE, two more int attributes were enough to make the Pico-shaped
# replacing load of tests/e2e/test_program_size_run.py fail). Service() resets both without
# allocating.
_CLK = [None, 0, 0, 0, 0]  # ticks_us, its last reading, board_us, previous frame (ms), t_before
_FIRES = []  # board_us of the latest fires (at most the rate limit's count)


def _heap_free():
    # free heap after a collection (bytes); None where the interpreter cannot say (CPython)
    fn = getattr(gc, "mem_free", None)
    if fn is None:
        return None
    gc.collect()
    return fn()


def _board_speed():
    # Board time per real time: 1 on a Pico; the emulated board's `time` says its pacing
    # (None: as fast as the simulator goes), so the host can size its heartbeat in board time.
    fn = getattr(time, "speed", None)
    if fn is None:
        return 1
    s = fn()
    return "max" if s is None else s


class Service:
    """The protocol state machine. receive() takes host bytes, tick() services the engine."""

    def __init__(
        self, engine, board_cfg, write, ticks_ms=_ticks_ms, ticks_diff=_ticks_diff, ticks_us=None
    ):
        self.engine = engine
        self.cfg = board_cfg
        self.write = write
        self.ticks_ms = ticks_ms
        self.ticks_diff = ticks_diff
        self.decoder = wire.Decoder()
        self.session = False
        self.phase = "idle"  # idle | loading | loaded | armed | running
        self.load_buf = None
        self.load_have = 0
        self.load_total = 0
        self.load_crc = 0
        limits = board_cfg.get("limits", {})
        self.max_program = limits.get("max_program_bytes", MAX_PROGRAM_BYTES)
        # The program buffer, reserved once while the heap is still whole (main.py builds this
        # right after the engine): a block taken at load-begin, after a session's traffic has
        # left small live objects all over the heap, can find no hole that large. Without room
        # for it, each load-begin allocates its own buffer as before.
        self.store = None
        try:
            gc.collect()
            self.store = bytearray(self.max_program)
        except MemoryError:
            pass
        self.default_heartbeat_ms = board_cfg.get("heartbeat_ms", DEFAULT_HEARTBEAT_MS)
        self.heartbeat_ms = self.default_heartbeat_ms
        now = ticks_ms()
        self.last_rx = now  # last valid frame
        self.last_byte = now  # last byte of any kind
        self.event_index = 0  # edges sent since hello / arm: the host numbers them the same
        self.last_state = None
        self.maintenance = False  # set by the maintenance request: run() returns
        self._last_fault = None  # an engine error is reported once, not every loop turn
        # the board clock (SYNC): microseconds since this loop started, unwrapped from ticks_us
        # at every loop turn (ticks_us wraps every 2**30 us, the loop turns every <= 50 ms)
        us = ticks_us or (_ticks_us if ticks_ms is _ticks_ms else None)
        if us is None:  # a test clock in ms: the board clock follows it
            us = lambda: ticks_ms() * 1000  # noqa: E731
        _CLK[0] = us
        _CLK[1] = us()
        _CLK[2] = 0
        _CLK[3] = now  # the valid frame before the current one (fire's staleness check)
        _CLK[4] = 0
        while _FIRES:
            _FIRES.pop()

    # ---- input ----

    def receive(self, data):
        """Feed host bytes. Every byte is data: no byte sequence but the framed maintenance
        request (handled like any frame) ends the loop."""
        self.last_byte = self.ticks_ms()
        self._handle(self.decoder.feed(data))

    def _handle(self, items):
        for item in items:
            if self.maintenance:
                return  # the REPL takes what follows the request
            if item[0] == "frame":
                _CLK[3] = self.last_rx
                self.last_rx = self.ticks_ms()
                self._frame(item[1], item[2], item[3])
            else:
                self._send(wire.ERROR, 0, wire.error(item[1], 0, item[2]))

    def _frame(self, mtype, seq, payload):
        handler = _HANDLERS.get(mtype)
        if handler is None:
            self._error(seq, wire.E_UNKNOWN, mtype, "unknown message type 0x%02x" % mtype)
            return
        if not self.session and mtype not in (wire.HELLO, wire.MAINTENANCE):
            self._error(
                seq,
                wire.E_ORDER,
                mtype,
                "%s: no session open, send hello first" % wire.NAMES[mtype],
            )
            return
        try:
            handler(self, seq, payload)
        except wire.WireError as e:
            self._error(seq, wire.E_PAYLOAD, mtype, str(e))
        except Exception as e:  # engine refusals and anything unforeseen: reply, stay safe
            if self.phase in ("armed", "running"):
                self.make_safe("firmware exception: %s" % _text(e))
            self.phase = "idle" if self.phase == "loading" else self.phase
            self._error(seq, wire.E_ENGINE, mtype, _text(e))

    # ---- message handlers ----

    def _hello(self, seq, payload):
        if len(payload) != 2:
            raise wire.WireError("hello payload: %d bytes, expected 2" % len(payload))
        version = payload[0] | (payload[1] << 8)
        if version != wire.WIRE_VERSION:
            self._error(
                seq,
                wire.E_PAYLOAD,
                wire.HELLO,
                "wire version %d: this firmware speaks %d" % (version, wire.WIRE_VERSION),
            )
            return
        self.session = True
        self.event_index = 0  # edge numbers are per session
        self.last_state = self.engine.status().get("state")  # STATE frames report changes
        cfg = self.cfg
        info = {
            "wire": wire.WIRE_VERSION,
            "firmware": FIRMWARE_VERSION,
            "board": cfg.get("name"),
            "chip": cfg.get("chip"),
            "sysclk_hz": cfg.get("sysclk_hz"),
            "limits": cfg.get("limits", {}),
            "heartbeat_ms": self.default_heartbeat_ms,
            "max_program_bytes": self.max_program,
            "phase": self.phase,
            "platform": sys.platform,  # "rp2" on a Pico; anything else is an emulated board
            "speed": _board_speed(),
            "heap_free": _heap_free(),
            "features": list(wire.FEATURES),
            "board_us": self.board_us(),
        }
        self._send(wire.HELLO_R, seq, json.dumps(info).encode())

    def _status(self, seq, payload):
        self._send(wire.STATUS_R, seq, json.dumps(self.status()).encode())

    def _load_begin(self, seq, payload):
        self._require(seq, wire.LOAD_BEGIN, ("idle", "loading", "loaded"))
        total, crc = wire.parse_load_begin(payload)
        if not 0 < total <= self.max_program:
            raise wire.WireError(
                "load-begin total_length %d: allowed 1..%d bytes" % (total, self.max_program)
            )
        self.load_buf = None  # let the previous buffer go before the new one is allocated
        unload = getattr(self.engine, "unload", None)
        if unload is not None:
            unload()  # and the previous program (phase not armed/running: _require above)
        if self.store is not None:
            self.load_buf = memoryview(self.store)[:total]  # the engine let go of it above
        else:
            gc.collect()  # so the big block goes to the lowest hole that fits
            self.load_buf = bytearray(total)  # once: growing it chunk by chunk fragments
        self.load_have = 0
        self.load_total = total
        self.load_crc = crc
        self.phase = "loading"
        self._send(wire.ACK, seq, bytes([wire.LOAD_BEGIN]))

    def _load_data(self, seq, payload):
        self._require(seq, wire.LOAD_DATA, ("loading",))
        offset, chunk = wire.parse_load_data(payload)
        have = self.load_have
        if offset != have:
            raise wire.WireError("load-data offset %d: expected %d" % (offset, have))
        if have + len(chunk) > self.load_total:
            raise wire.WireError(
                "load-data: %d bytes beyond the announced %d"
                % (have + len(chunk) - self.load_total, self.load_total)
            )
        self.load_buf[have : have + len(chunk)] = chunk
        self.load_have = have + len(chunk)
        self._send(wire.ACK, seq, bytes([wire.LOAD_DATA]) + wire.u32(self.load_have))

    def _load_end(self, seq, payload):
        self._require(seq, wire.LOAD_END, ("loading",))
        data = self.load_buf
        self.load_buf = None
        self.phase = "idle"
        if self.load_have != self.load_total:
            raise wire.WireError(
                "load-end after %d of %d bytes" % (self.load_have, self.load_total)
            )
        crc = wire.crc32(data) & 0xFFFFFFFF
        if crc != self.load_crc:
            raise wire.WireError("load-end crc32 0x%08x: announced 0x%08x" % (crc, self.load_crc))
        # the echo is a digest of what this board stored, so the host can tell two programs
        # apart (a CRC over bytes that end with their own CRC is a constant)
        digest = hashlib.sha256(data).digest()
        # handed over: nothing here touches `data` again, so the engine keeps it without a copy
        self.engine.load(data, self._progress(seq), owned=True)
        self.phase = "loaded"
        self._send(wire.LOADED, seq, wire.loaded(len(data), digest))

    def _progress(self, seq):
        """A callback for long work on request `seq`: PROGRESS frames keep the host waiting.
        Sent every PROGRESS_MS, and every PROGRESS_CALLS calls whatever the clock says (an
        emulated board's clock does not count pure computation)."""
        last = [self.ticks_ms(), 0]

        def report(done, total):
            now = self.ticks_ms()
            last[1] += 1
            if self.ticks_diff(now, last[0]) >= PROGRESS_MS or last[1] >= PROGRESS_CALLS:
                last[0] = now
                last[1] = 0
                self._send(wire.PROGRESS, seq, wire.progress(done, total))

        return report

    def _arm(self, seq, payload):
        self._require(seq, wire.ARM, ("loaded",))
        hb = self.default_heartbeat_ms if len(payload) == 0 else wire.parse_u32(payload, "arm")
        if hb > wire.MAX_HEARTBEAT_MS:  # ticks_diff() covers +-2**29 ms
            raise wire.WireError(
                "arm heartbeat_ms %d: allowed 0 (off) or 1..%d" % (hb, wire.MAX_HEARTBEAT_MS)
            )
        self.engine.arm()
        self.heartbeat_ms = hb
        self.last_rx = self.ticks_ms()
        self.phase = "armed"
        self.event_index = 0  # the run's edges are numbered from 0 (the host resets too)
        self.last_state = None
        self._send(wire.ACK, seq, bytes([wire.ARM]))

    def _start(self, seq, payload):
        t_req = self.board_us()
        self._require(seq, wire.START_RUN, ("armed",))
        if payload:
            raise wire.WireError("start payload: %d bytes, expected 0" % len(payload))
        _CLK[4] = self.board_us()
        self.engine.start()
        self._started(seq, wire.START_RUN, t_req)

    def _started(self, seq, mtype, t_req):
        # engine.start() enables the capture state machines with its last writes: the capture
        # clock's zero lies between t_before and t_after (a few microseconds apart)
        t_after = self.board_us()
        self.last_rx = self.ticks_ms()  # silence is counted from the start, not the request
        self.phase = "running"
        self._send(wire.ACK, seq, bytes([mtype]) + wire.started(t_req, _CLK[4], t_after))
        self.tick()
        return t_after

    def _sync(self, seq, payload):
        if payload:
            raise wire.WireError("sync payload: %d bytes, expected 0" % len(payload))
        self._send(wire.SYNC_R, seq, wire.u64(self.board_us()))

    def _fire(self, seq, payload):
        """One pulse on command: the loaded program (exactly one pulse) armed and started, but
        only within the board's own limits, whatever the host asks (docs/wire-protocol.md)."""
        t_req = self.board_us()
        self._require(seq, wire.FIRE, ("loaded",))
        hb = wire.parse_u32(payload, "fire")
        if hb > wire.MAX_HEARTBEAT_MS:
            raise wire.WireError(
                "fire heartbeat_ms %d: allowed 1..%d (0 only at emulator speed max)"
                % (hb, wire.MAX_HEARTBEAT_MS)
            )
        refusal = self._fire_refusal(hb, t_req)
        if refusal is not None:
            self._error(seq, wire.E_LIMIT, wire.FIRE, refusal)
            return
        self.engine.arm()
        self.heartbeat_ms = hb
        self.phase = "armed"
        self.event_index = 0
        self.last_state = None
        _CLK[4] = self.board_us()
        self.engine.start()
        t = self._started(seq, wire.FIRE, t_req)
        _FIRES.append(t)
        if len(_FIRES) > self._rate_count():
            _FIRES.pop(0)

    def _rate_count(self):
        lim = self.cfg.get("limits", {})
        return max(1, lim.get("max_rate_hz", 100) * lim.get("max_rate_window_s", 10))

    def _fire_refusal(self, hb, now):
        """Why this fire breaks a board limit (text naming value and limit), or None."""
        planned = self.engine.status().get("pulses_planned")
        if planned != 1:
            return (
                "fire: the loaded program has %s pulses; fire starts only a one-pulse program"
                % (planned,)
            )
        if hb == 0 and _board_speed() != "max":
            return (
                "fire heartbeat_ms 0: a fire needs the heartbeat on a board in real time; "
                "allowed 1..%d" % wire.MAX_HEARTBEAT_MS
            )
        silent = self.ticks_diff(self.last_rx, _CLK[3])
        if hb and silent > hb:
            return (
                "fire: the host was silent for %d ms before it, above heartbeat_ms = %d; "
                "a late command is not obeyed" % (silent, hb)
            )
        lim = self.cfg.get("limits", {})
        if _FIRES:
            gap = now - _FIRES[-1]
            min_us = lim.get("min_interval_us", 0)
            if gap < min_us:
                return (
                    "fire: %d us after the previous fire, below limits.min_interval_us = %d us"
                    % (gap, min_us)
                )
        k = self._rate_count()
        window_s = lim.get("max_rate_window_s", 10)
        if len(_FIRES) >= k and now - _FIRES[-k] < window_s * 1000000:
            return (
                "fire: %d pulses within %d s would exceed limits.max_rate_hz = %d over "
                "limits.max_rate_window_s = %d"
                % (k + 1, window_s, lim.get("max_rate_hz", 100), window_s)
            )
        return None

    def board_us(self):
        """The board clock: microseconds since the loop started (64-bit, never wraps)."""
        now = _CLK[0]()
        _CLK[2] += self.ticks_diff(now, _CLK[1])
        _CLK[1] = now
        return _CLK[2]

    def _stream_begin(self, seq, payload):
        self._require(seq, wire.STREAM_BEGIN, ("loaded",))
        self.engine.stream_begin(wire.parse_u32(payload, "stream-begin"))
        import stream

        self._send(wire.ACK, seq, bytes([wire.STREAM_BEGIN]) + wire.u32(stream.WINDOW))

    def _stream_data(self, seq, payload):
        self._require(seq, wire.STREAM_DATA, ("loaded", "armed", "running"))
        received, room = self.engine.stream_data(payload)
        self._send(wire.ACK, seq, bytes([wire.STREAM_DATA]) + wire.u32(received) + wire.u32(room))

    def _stream_end(self, seq, payload):
        self._require(seq, wire.STREAM_END, ("loaded", "armed", "running"))
        self.engine.stream_end()
        self._send(wire.ACK, seq, bytes([wire.STREAM_END]))

    def _stop(self, seq, payload):
        reason = bytes(payload).decode() or "host stop"
        self.make_safe(reason)
        self._drain()
        self._send(wire.STATUS_R, seq, json.dumps(self.status()).encode())

    def _heartbeat(self, seq, payload):
        pass  # receiving it refreshed last_rx

    def _bye(self, seq, payload):
        if self.phase in ("armed", "running") and self.heartbeat_ms:
            self.make_safe("host closed the session")
        self._send(wire.ACK, seq, bytes([wire.BYE]))
        self.close_session()

    def _maintenance(self, seq, payload):
        self._require(seq, wire.MAINTENANCE, ("idle", "loading", "loaded"))
        if bytes(payload) != wire.MAINTENANCE_KEY:
            raise wire.WireError("maintenance payload: not the maintenance key")
        self.make_safe("maintenance: REPL requested")
        self._send(wire.ACK, seq, bytes([wire.MAINTENANCE]))
        self.close_session()
        self.maintenance = True

    def _require(self, seq, mtype, phases):
        if self.phase not in phases:
            raise _OrderError(
                "%s not allowed while %s (allowed while %s)"
                % (wire.NAMES[mtype], self.phase, " or ".join(phases))
            )

    # ---- engine servicing ----

    def tick(self):
        """Drop stalled frames, stream new edges and state changes, enforce the heartbeat."""
        now = self.ticks_ms()
        self.board_us()  # unwrap ticks_us at least once per loop turn
        if self.decoder.pending():
            if self.ticks_diff(now, self.last_byte) > FRAME_TIMEOUT_MS:
                self._handle(self.decoder.expire())
        elif self.decoder.junk:
            out = []
            self.decoder.flush_junk(out)
            self._handle(out)
        try:
            self._drain()  # also at rest: engine.poll() feeds the watchdog once a run started
        except Exception as e:  # the loop never dies of an engine error: stop, report, go on
            text = "firmware exception in poll: %s" % _text(e)
            if self.phase in ("armed", "running"):
                self.make_safe(text)
            if text != self._last_fault:
                self._last_fault = text
                self._send(wire.FAULT, 0, json.dumps({"code": "exception", "text": text}).encode())
            return
        if self.phase not in ("armed", "running"):
            return
        if self.heartbeat_ms and self.ticks_diff(now, self.last_rx) > self.heartbeat_ms:
            text = "heartbeat: host silent for more than %d ms" % self.heartbeat_ms
            self.make_safe(text)
            self._send(wire.FAULT, 0, json.dumps({"code": "heartbeat", "text": text}).encode())
            self._drain()

    def _drain(self):
        edges = self.engine.poll()
        if not self.session:  # nobody to tell (stand-alone run or before hello)
            self.last_state = None
            return
        i = 0
        while i < len(edges):
            batch = edges[i : i + wire.EVENTS_PER_FRAME]
            recs = []
            for source, level, cycle in batch:
                recs.append((_source_id(self.cfg, source), level, cycle))
            self._send(wire.EVENTS, 0, wire.events(self.event_index, recs))
            self.event_index += len(batch)
            i += len(batch)
        st = self.engine.status()
        state = st.get("state")
        if self.phase in ("armed", "running") and state not in wire.ACTIVE_STATES:
            self.phase = "loaded"
        if state == "running" and self._waiting():
            state = "waiting"  # a STATE frame when the trigger wait begins and ends
        if state != self.last_state:
            self.last_state = state
            self._send(wire.STATE, 0, json.dumps(self.status(st)).encode())

    def make_safe(self, reason):
        try:
            self.engine.stop(reason)
        finally:
            if self.phase in ("armed", "running", "loading"):
                self.phase = "loaded" if self.phase != "loading" else "idle"

    def close_session(self):
        self.session = False
        self.phase = "idle" if self.phase == "loading" else self.phase
        self.load_buf = None

    def busy(self):
        return self.phase in ("armed", "running") or self.decoder.pending()

    def bulk_size(self):
        """How many bytes run() may read in one call: the rest of the current frame once its
        header has arrived, while loading (at rest: nothing armed or running); else 1. The host
        writes each frame in one piece, so this only waits for bytes already on their way; a
        frame cut short there holds the loop until more bytes come, which is harmless at rest.
        One read per LOAD_DATA payload instead of a poll and a read per byte (80 us a byte on
        the real image in rp2040py: the load's main cost, docs/performance.md)."""
        d = self.decoder
        if self.phase == "loading" and d.need > 1 and len(d.buf) >= wire.HEADER_SIZE:
            return d.need
        return 1

    def status(self, st=None):
        st = dict(self.engine.status() if st is None else st)
        st["phase"] = self.phase
        st["events_sent"] = self.event_index
        st["heartbeat_ms"] = self.heartbeat_ms
        st["waiting_trigger"] = self._waiting() if st.get("state") == "running" else False
        st["board_us"] = self.board_us()
        return st

    def _waiting(self):
        # a trigger or gated run whose generators sit at the trigger wait (engine without the
        # query: never waiting)
        fn = getattr(self.engine, "waiting_for_trigger", None)
        return bool(fn()) if fn is not None else False

    # ---- output ----

    def _send(self, mtype, seq, payload):
        self.write(wire.frame(mtype, seq, payload))

    def _error(self, seq, code, mtype, text):
        self._send(wire.ERROR, seq, wire.error(code, mtype, text))


class _OrderError(Exception):
    pass


def _order_error_wrapper(handler):
    def wrapped(svc, seq, payload):
        try:
            handler(svc, seq, payload)
        except _OrderError as e:
            svc._error(seq, wire.E_ORDER, _MTYPE_OF[handler], str(e))

    return wrapped


_HANDLERS = {}
_MTYPE_OF = {}
for _t, _h in (
    (wire.HELLO, Service._hello),
    (wire.STATUS, Service._status),
    (wire.LOAD_BEGIN, Service._load_begin),
    (wire.LOAD_DATA, Service._load_data),
    (wire.LOAD_END, Service._load_end),
    (wire.ARM, Service._arm),
    (wire.START_RUN, Service._start),
    (wire.STOP, Service._stop),
    (wire.HEARTBEAT, Service._heartbeat),
    (wire.BYE, Service._bye),
    (wire.SYNC, Service._sync),
    (wire.FIRE, Service._fire),
    (wire.MAINTENANCE, Service._maintenance),
    (wire.STREAM_BEGIN, Service._stream_begin),
    (wire.STREAM_DATA, Service._stream_data),
    (wire.STREAM_END, Service._stream_end),
):
    _MTYPE_OF[_h] = _t
    _HANDLERS[_t] = _order_error_wrapper(_h)


def _text(e):
    """FirmwareError(code, text) -> 'code: text'; anything else -> 'Type: message'."""
    code = getattr(e, "code", None)
    text = getattr(e, "text", None)
    if isinstance(code, str) and isinstance(text, str):
        return "%s: %s" % (code, text)
    args = getattr(e, "args", ())
    return "%s: %s" % (type(e).__name__, " ".join(str(a) for a in args))


def _source_id(cfg, source):
    """Engine edge source (wire.SOURCE_NAMES: "ch0".."ch3", "marker", "confirm", "trigger_in")
    -> wire source byte."""
    if isinstance(source, int):
        return source
    return wire.SOURCE_IDS[source]


def run(engine, board_cfg, fault=None):
    """main.py calls this after the outputs are safe and the Engine exists. Returns
    MAINTENANCE (outputs idle, session closed) only when the host sent the maintenance request;
    main.py then ends and the REPL takes the port. `fault`: why the previous loop ended (an
    exception), sent once as a FAULT frame."""
    import select

    # CPython (the emulator's fallback interpreter) buffers stdin and stdout: read the raw
    # file so poll() and read(1) agree, and flush every frame. MicroPython has neither layer.
    inp = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
    out = sys.stdout.buffer
    flush = getattr(out, "flush", None)

    def write(data):
        out.write(data)
        if flush is not None:
            flush()

    svc = Service(engine, board_cfg, write)
    if fault is not None:
        svc._send(wire.FAULT, 0, json.dumps({"code": "exception", "text": fault}).encode())
    poller = select.poll()
    poller.register(sys.stdin, select.POLLIN)
    if micropython is not None:
        micropython.kbd_intr(-1)  # 0x03 is data: line noise must never reach the REPL
    try:
        while not svc.maintenance:
            if poller.poll(RUN_POLL_MS if svc.busy() else IDLE_POLL_MS):
                chunk = bytearray()
                got = 0
                while got < READ_BURST:
                    n = 1
                    if svc.phase == "loading":  # bring the decoder up to date, then ask
                        if chunk:
                            svc.receive(bytes(chunk))
                            chunk = bytearray()
                        if svc.maintenance:
                            break
                        n = svc.bulk_size()
                    b = inp.read(n)
                    if not b:
                        break
                    chunk.extend(b)
                    got += len(b)
                    if not poller.poll(0):
                        break
                if chunk:
                    svc.receive(bytes(chunk))
            if not svc.maintenance:
                svc.tick()
    finally:
        svc.close_session()
    # only now is Ctrl-C an interrupt again: for the REPL the host asked for (after an
    # exception main.py restarts this loop and 0x03 stays data)
    if micropython is not None:
        micropython.kbd_intr(_CTRL_C)
    return MAINTENANCE
