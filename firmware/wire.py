# Wire protocol between the host and the board: framing and message layouts.
# Pure module in the common subset of CPython and MicroPython; the host imports this same file.
# docs/wire-protocol.md explains every message and the session rules.
#
# Frame (little-endian):
#   u8 START (0xA5)  u16 length  u8 type  u8 seq  payload[length]  u32 crc32
#   crc32 (binascii.crc32) covers length, type, seq and payload: everything after START.
#   length <= MAX_PAYLOAD. A reply carries the seq of its request; unsolicited frames use seq 0.
#
# Payloads (JSON payloads are UTF-8 objects; text is UTF-8):
#   HELLO      host->board  u16 wire_version
#   HELLO_R    board->host  JSON {"wire", "firmware", "board", "chip", "sysclk_hz", "limits",
#                                 "heartbeat_ms"}
#   STATUS     host->board  empty                       -> STATUS_R JSON status
#   LOAD_BEGIN host->board  u32 total_length u32 crc32   -> ACK
#   LOAD_DATA  host->board  u32 offset + bytes           -> ACK u32 bytes received so far
#   LOAD_END   host->board  empty                        -> LOADED u32 length + sha256[32] of the
#                                                           bytes the board stored (PROGRESS
#                                                           frames while it checks a long program)
#   ARM        host->board  u32 heartbeat_ms (0 = off)   -> ACK
#   START      host->board  empty                        -> ACK
#   STOP       host->board  text reason                  -> STATUS_R JSON status
#   HEARTBEAT  host->board  empty                        (no reply; any valid frame also counts)
#   BYE        host->board  empty                        -> ACK; session closed
#   MAINTENANCE host->board MAINTENANCE_KEY, only at rest -> ACK; outputs idle, the firmware ends
#                                                           and MicroPython's REPL takes the port
#   ACK        board->host  u8 request type + request-specific bytes
#   PROGRESS   board->host  u32 done u32 total (0 = unknown), seq of the request still being
#                           worked on: keeps the host's reply timeout alive
#   ERROR      board->host  u8 code u8 request type (0 = framing) + text
#   EVENTS     board->host  u32 index of the first edge + n x (u8 source u8 level u64 cycle)
#   STATE      board->host  JSON status, sent whenever the run state changes
#   FAULT      board->host  JSON {"code", "text"}
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - every supported interpreter has it
    from zlib import crc32

WIRE_VERSION = 2
START = 0xA5
MAX_PAYLOAD = 1024
HEADER_SIZE = 5  # START + length + type + seq
CRC_SIZE = 4
_U32 = 0xFFFFFFFF

# host -> board
HELLO = 0x01
STATUS = 0x02
LOAD_BEGIN = 0x03
LOAD_DATA = 0x04
LOAD_END = 0x05
ARM = 0x06
START_RUN = 0x07
STOP = 0x08
HEARTBEAT = 0x0A
BYE = 0x0B
# 'M': printable, and with MAINTENANCE_KEY the whole frame holds no byte that a MicroPython REPL
# acts on (0x01-0x05, CR, LF), so sent to a board already at the REPL it does nothing there
MAINTENANCE = 0x4D
MAINTENANCE_SEQ = 0x4D
MAINTENANCE_KEY = b"tmspio maintenance: stop the firmware and open the REPL"
# board -> host
ACK = 0x80
HELLO_R = 0x81
STATUS_R = 0x82
LOADED = 0x83
PROGRESS = 0x84
EVENTS = 0x90
STATE = 0x91
FAULT = 0x92
ERROR = 0xE0

NAMES = {
    HELLO: "hello",
    STATUS: "status",
    LOAD_BEGIN: "load-begin",
    LOAD_DATA: "load-data",
    LOAD_END: "load-end",
    ARM: "arm",
    START_RUN: "start",
    STOP: "stop",
    HEARTBEAT: "heartbeat",
    BYE: "bye",
    MAINTENANCE: "maintenance",
    ACK: "ack",
    HELLO_R: "hello-reply",
    STATUS_R: "status-reply",
    LOADED: "loaded",
    PROGRESS: "progress",
    EVENTS: "events",
    STATE: "state",
    FAULT: "fault",
    ERROR: "error",
}

# ERROR codes
E_CRC = 1  # frame CRC mismatch
E_OVERSIZED = 2  # length field above MAX_PAYLOAD
E_TRUNCATED = 3  # frame started but not finished in time
E_JUNK = 4  # bytes outside any frame
E_UNKNOWN = 5  # unknown message type
E_PAYLOAD = 6  # payload has the wrong size or content
E_ORDER = 7  # message not allowed in the current state
E_ENGINE = 8  # the engine refused (FirmwareError); text carries its code and message
ERROR_NAMES = {
    E_CRC: "crc",
    E_OVERSIZED: "oversized",
    E_TRUNCATED: "truncated",
    E_JUNK: "junk",
    E_UNKNOWN: "unknown-type",
    E_PAYLOAD: "payload",
    E_ORDER: "out-of-order",
    E_ENGINE: "engine",
}

# EVENTS sources (u8): trigger outputs are their channel index 0..3
SRC_MARKER = 4
SRC_CONFIRM = 5
SRC_TRIGGER_IN = 6
SOURCE_NAMES = {
    0: "ch0",
    1: "ch1",
    2: "ch2",
    3: "ch3",
    SRC_MARKER: "marker",
    SRC_CONFIRM: "confirm",
    SRC_TRIGGER_IN: "trigger_in",
}
SOURCE_IDS = {name: i for i, name in SOURCE_NAMES.items()}  # the engine names its edges so

# Engine states (STATUS/STATE "state") in which the outputs may move; every other is at rest
ACTIVE_STATES = ("armed", "running")
MAX_HEARTBEAT_MS = (1 << 29) - 1  # arm's heartbeat_ms bound: the range of time.ticks_diff()
EVENT_SIZE = 10
EVENTS_PER_FRAME = (MAX_PAYLOAD - 4) // EVENT_SIZE

_HEAD = "<BHBB"
_EVENT = "<BBQ"


class WireError(ValueError):
    """A payload that does not match its message layout."""


def frame(mtype, seq, payload=b""):
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise WireError("payload length %d: at most %d bytes" % (n, MAX_PAYLOAD))
    head = struct.pack(_HEAD, START, n, mtype, seq & 0xFF)
    crc = crc32(payload, crc32(head[1:])) & _U32
    return head + payload + struct.pack("<I", crc)


class Decoder:
    """Byte-at-a-time frame decoder that never blocks and never gives up.

    feed(data) returns a list of items: ("frame", type, seq, payload) or ("error", code, text).
    After a bad frame it rescans from the byte after the bad START, so a valid frame that
    follows garbage or a truncated frame is still found. expire() ends a frame that stalled.
    """

    def __init__(self, max_payload=MAX_PAYLOAD):
        self.max_payload = max_payload
        self.buf = bytearray()
        self.need = 0  # bytes still missing from the current frame; 0 = hunting for START
        self.junk = 0  # bytes skipped while hunting

    def pending(self):
        return len(self.buf) > 0

    def feed(self, data):
        out = []
        i = 0
        n = len(data)
        while i < n:
            if self.need > 1 and len(self.buf) >= HEADER_SIZE:
                # inside a payload: copy all but the frame's last byte in one go
                take = min(self.need - 1, n - i)
                self.buf.extend(data[i : i + take])
                self.need -= take
                i += take
                continue
            self._byte(data[i], out)
            i += 1
        return out

    def flush_junk(self, out):
        if self.junk:
            out.append(("error", E_JUNK, "%d bytes outside a frame ignored" % self.junk))
            self.junk = 0

    def expire(self):
        """The current frame stopped arriving: report it and rescan what was buffered."""
        out = []
        if self.buf:
            got = len(self.buf)
            rest = bytes(self.buf[1:])
            self.buf = bytearray()
            self.need = 0
            out.append(("error", E_TRUNCATED, "frame truncated after %d bytes" % got))
            for b in rest:
                self._byte(b, out)
        self.flush_junk(out)
        return out

    def _byte(self, b, out):
        buf = self.buf
        if not buf:
            if b == START:
                buf.append(b)
                self.need = HEADER_SIZE - 1
            else:
                self.junk += 1
            return
        buf.append(b)
        self.need -= 1
        if self.need:
            return
        if len(buf) == HEADER_SIZE:
            n = buf[1] | (buf[2] << 8)
            if n > self.max_payload:
                self._resync(
                    out, E_OVERSIZED, "length %d above the maximum %d" % (n, self.max_payload)
                )
                return
            self.need = n + CRC_SIZE
            return
        # complete frame
        self.flush_junk(out)
        body = bytes(buf[1:-CRC_SIZE])
        (crc,) = struct.unpack("<I", bytes(buf[-CRC_SIZE:]))
        if crc32(body) & _U32 != crc:
            self._resync(out, E_CRC, "crc32 mismatch on a %d-byte frame" % len(buf))
            return
        self.buf = bytearray()
        out.append(("frame", body[2], body[3], body[4:]))

    def _resync(self, out, code, text):
        self.flush_junk(out)
        out.append(("error", code, text))
        rest = bytes(self.buf[1:])
        self.buf = bytearray()
        self.need = 0
        for b in rest:
            self._byte(b, out)


# ---- payload helpers (both sides) ----


def u32(value):
    return struct.pack("<I", value & _U32)


def parse_u32(payload, what):
    if len(payload) != 4:
        raise WireError("%s payload: %d bytes, expected 4" % (what, len(payload)))
    return struct.unpack("<I", payload)[0]


def load_begin(total, crc):
    return struct.pack("<II", total, crc & _U32)


def parse_load_begin(payload):
    if len(payload) != 8:
        raise WireError("load-begin payload: %d bytes, expected 8" % len(payload))
    return struct.unpack("<II", payload)


def load_data(offset, chunk):
    return struct.pack("<I", offset) + chunk


def parse_load_data(payload):
    if len(payload) < 5:
        raise WireError(
            "load-data payload: %d bytes, expected 4-byte offset and data" % len(payload)
        )
    return struct.unpack("<I", payload[:4])[0], payload[4:]


SHA256_SIZE = 32


def loaded(length, digest):
    return struct.pack("<I", length) + digest


def parse_loaded(payload):
    if len(payload) != 4 + SHA256_SIZE:
        raise WireError("loaded payload: %d bytes, expected %d" % (len(payload), 4 + SHA256_SIZE))
    return struct.unpack("<I", payload[:4])[0], bytes(payload[4:])


def progress(done, total):
    return struct.pack("<II", done & _U32, total & _U32)


def parse_progress(payload):
    if len(payload) != 8:
        raise WireError("progress payload: %d bytes, expected 8" % len(payload))
    return struct.unpack("<II", payload)


def maintenance_frame():
    """The one frame that hands the port to the REPL (docs/wire-protocol.md, Maintenance)."""
    return frame(MAINTENANCE, MAINTENANCE_SEQ, MAINTENANCE_KEY)


def error(code, request_type, text):
    return struct.pack("<BB", code, request_type) + text.encode()


def parse_error(payload):
    if len(payload) < 2:
        raise WireError("error payload: %d bytes, expected at least 2" % len(payload))
    return payload[0], payload[1], bytes(payload[2:]).decode()


def events(first_index, records):
    """records: sequence of (source, level, cycle) with source 0..255 and cycle < 2**64."""
    parts = [struct.pack("<I", first_index & _U32)]
    for source, level, cycle in records:
        parts.append(struct.pack(_EVENT, source, level, cycle))
    return b"".join(parts)


def parse_events(payload):
    n = len(payload) - 4
    if n < 0 or n % EVENT_SIZE:
        raise WireError("events payload: %d bytes, expected 4 + 10*n" % len(payload))
    first = struct.unpack("<I", payload[:4])[0]
    recs = []
    for off in range(4, len(payload), EVENT_SIZE):
        recs.append(struct.unpack(_EVENT, payload[off : off + EVENT_SIZE]))
    return first, recs
