# DMA between RAM and the PIO FIFOs: no Python in the timing path.
#
# GenFeed: two DMA channels per generator, each with its own RAM buffer, paced by the SM's TX
# DREQ. The running channel chains to the other one only after Python has refilled and re-armed
# the other one (chain_to is written last), so a late refill can never replay stale words: the
# FIFO runs dry instead, the SM stalls on a pull with its output idle and FDEBUG.TXSTALL
# reports the underrun as a fault.
#
# CapFeed: one DMA channel per capture SM, RX DREQ paced, into a RAM buffer; Python reads the
# words that arrived and restarts the channel at the top once it is past half the buffer. While
# it restarts, the 8-word RX FIFO holds new edges; if Python does not come back before the
# buffer and the FIFO are full, the SM stalls (FDEBUG.RXSTALL) = capture overflow fault.
from array import array

import rp2


def _fill(buf, it):
    """-> (words put in buf, True if `it` has ended). A None from `it` (a stream's next piece
    not there yet) ends the fill early without ending the words."""
    n = 0
    size = len(buf)
    for w in it:
        if w is None:
            return n, False
        buf[n] = w
        n += 1
        if n == size:
            return n, False
    return n, True


class GenFeed:
    def __init__(self, sm, pio, sm_index, words, half):
        self._it = words
        self._bufs = (array("I", [0] * half), array("I", [0] * half))
        self._dma = (rp2.DMA(), rp2.DMA())
        self._sm = sm
        self._treq = (pio << 3) + sm_index
        self._counts = [0, 0]
        self._active = 0
        self.exhausted = False
        self.late = False  # a stream: the running buffer ended before the next one was filled
        self.words = 0
        for i in (0, 1):
            self._arm(i)

    def channels(self):
        return (self._dma[0].channel, self._dma[1].channel)

    def _ctrl(self, i, chain):
        d = self._dma[i]
        return d.pack_ctrl(
            size=2,
            inc_read=True,
            inc_write=False,
            treq_sel=self._treq,
            chain_to=self._dma[chain].channel,
            irq_quiet=True,
        )

    def _arm(self, i):
        """Refill buffer i and arm its channel (not triggered, not chained to)."""
        n = 0
        if not self.exhausted:
            n, self.exhausted = _fill(self._bufs[i], self._it)
        self._counts[i] = n
        self.words += n
        if n:
            self._dma[i].config(
                read=self._bufs[i], write=self._sm, count=n, ctrl=self._ctrl(i, i), trigger=False
            )

    def start(self):
        """Trigger buffer 0 (fills the TX FIFO before the SMs start); chain to buffer 1."""
        if self._counts[1]:
            self._dma[0].ctrl = self._ctrl(0, 1)
        self._dma[0].active(1)

    def service(self):
        """Re-arm the buffer the DMA has left. Returns True while words remain to be sent."""
        a = self._active
        other = 1 - a
        if self._dma[a].active():
            if not self._counts[other] and not self.exhausted:
                # a stream's words that were not there when this buffer was armed: fill the
                # other one now and chain to it. Should the running channel end before the
                # chain is written, it is never followed: the FIFO runs dry (underrun fault),
                # no channel is ever started late
                self._arm(other)
                if self._counts[other]:
                    self._dma[a].ctrl = self._ctrl(a, other)
            return True
        if not self._counts[other]:
            if not self.exhausted:
                self.late = True  # words still to come, none queued: never restarted late
            return False  # nothing more was queued: this was the last buffer
        self._active = other
        self._arm(a)
        if self._counts[a]:
            # chain only now, so a channel never starts on a buffer that was not refilled
            self._dma[other].ctrl = self._ctrl(other, a)
        return True

    def close(self):
        for d in self._dma:
            d.active(0)
            d.close()


class CapFeed:
    def __init__(self, sm, pio, sm_index, size):
        self._buf = array("I", [0] * size)
        self._size = size
        self._dma = rp2.DMA()
        self._sm = sm
        self._ctrl = self._dma.pack_ctrl(
            size=2,
            inc_read=False,
            inc_write=True,
            treq_sel=(pio << 3) + 4 + sm_index,
            irq_quiet=True,
        )
        self._pos = 0
        self._rearm()

    def channel(self):
        return self._dma.channel

    def _rearm(self):
        self._pos = 0
        self._dma.config(
            read=self._sm, write=self._buf, count=self._size, ctrl=self._ctrl, trigger=True
        )

    def drain(self, sink, may_restart=True):
        """Pass every word that arrived to sink(word). Past half the buffer the channel is
        stopped (CHAN_ABORT lets an in-flight word land; the rest wait in the RX FIFO), the
        tail is read and the channel restarts at the top: no word is lost or reordered.
        may_restart=False (the SM overflowed): no restart, the SM stays stalled, so no word
        with a shifted timestamp ever reaches the buffer."""
        done = self._size - self._dma.count
        if done > self._size // 2 and may_restart:
            self._dma.active(0)
            done = self._size - self._dma.count
            self._emit(done, sink)
            self._rearm()
        else:
            self._emit(done, sink)

    def _emit(self, done, sink):
        buf = self._buf
        for i in range(self._pos, done):
            sink(buf[i])
        self._pos = done

    def close(self):
        self._dma.active(0)
        self._dma.close()
