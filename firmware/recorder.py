# The capture side of a run: PIO1 SM i = edge_capture of one source (the used trigger outputs in
# channel order, then trigger_in for a trigger or gated start, then confirm_in, each while a
# state machine is left), one DMA channel each, decoded to
# (source, level, cycle) with cycles counted from the capture start. Counts delivered pulses
# (captured onsets of the trigger outputs) and derives the program's time zero.
import capture
import pioprogs
import rp2
import timing as T
import wire
from feeder import CapFeed
from machine import Pin, mem32
from micropython import const

_CAP_WORDS = const(256)  # words per capture DMA buffer
_MAX_SOURCES = const(4)  # PIO1 has 4 state machines
_PIO1_FDEBUG = const(0x50300008)  # RXSTALL bits 3:0 (same address on RP2040 and RP2350)


class Recorder:
    def __init__(self):
        self.names = []
        self.delivered = 0
        self.start_cycle = None
        self.mask = 0
        self._caps = []
        self._delays = {}
        self._edges = []
        self._cur = None

    def arm(self, prog, trigger_pins, confirm_pin, confirm_idle, trigger_in=None):
        """Claim PIO1 SMs and DMA for every used output, then trigger_in ((gpio, idle level),
        given for a trigger or gated start: the edges the trains are laid on) and confirm_in
        while state machines are left."""
        srcs = []
        self._delays = {}
        for ch in prog.channels:
            name = wire.SOURCE_NAMES[ch.index]  # the wire's names: "ch0".."ch3"
            self._delays[name] = ch.delay
            srcs.append((name, trigger_pins[ch.index], ch.idle_level))
        if trigger_in is not None and len(srcs) < _MAX_SOURCES:
            srcs.append(("trigger_in", trigger_in[0], trigger_in[1]))
        if len(srcs) < _MAX_SOURCES:
            srcs.append(("confirm", confirm_pin, confirm_idle))
        self.names = [src[0] for src in srcs]
        self.delivered = 0
        self.start_cycle = None
        self.mask = 0
        prog_list = pioprogs.edge_capture
        for i in range(len(srcs)):
            name, gpio, idle = srcs[i]
            sm = rp2.StateMachine(4 + i, prog_list, freq=-1, jmp_pin=Pin(gpio))
            sm.exec(0xA04B)  # mov y, ~null
            entry = prog_list[2] + (T.CAP_HIGH if idle else T.CAP_LOW)  # PIO1 load offset
            sm.exec(0x0080 + entry)  # jmp y--, entry: Y = 0xFFFFFFFE, PC = idle level's loop
            self._caps.append(
                (name, CapFeed(sm, 1, i, _CAP_WORDS), capture.PinDecoder(idle), idle)
            )
            self.mask |= 1 << i

    def drain(self, out, stopped=False):
        """Append every edge captured since the last call to out. A source whose SM stalled on
        a full FIFO (FDEBUG.RXSTALL) is not restarted unless the capture is `stopped`."""
        self._edges = out
        stalled = mem32[_PIO1_FDEBUG] if not stopped else 0
        for i in range(len(self._caps)):
            cap = self._caps[i]
            self._cur = cap
            cap[1].drain(self._sink, not stalled & (1 << i))

    def _sink(self, word):
        name, feed, dec, idle = self._cur
        got = []
        dec.feed(word, got)
        for cycle, level in got:
            self._edges.append((name, level, cycle))
            if level != idle and name in self._delays:  # an onset of a trigger output
                self.delivered += 1
                if self.start_cycle is None:
                    # the first captured onset's planned offset is its channel's delay
                    self.start_cycle = cycle - self._delays[name]

    def armed(self):
        return len(self._caps) > 0

    def close(self):
        for cap in self._caps:
            cap[1].close()
        self._caps = []
