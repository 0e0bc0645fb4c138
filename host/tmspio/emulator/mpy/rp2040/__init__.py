"""The RP2040 model: the chip as the firmware's stand-ins see it through its registers.

board (the clocked board: bus, timers, watchdog, pads, PIO and DMA blocks), pads (GPIO, pad and
input-synchroniser model), pioblock (a PIO block of four state machines), statemachine (one
state machine, cycle-exact), fastpath (its compiled fast path), dma (the DMA channels) and
errors (EmulatorError, BoardReset). Plain Python in the common subset of CPython and
MicroPython; the `machine`/`rp2`/`time`/`select` stand-ins one level up are the only callers
on the board side. Imports inside the package are relative so it loads the same way under
both interpreters.
"""
