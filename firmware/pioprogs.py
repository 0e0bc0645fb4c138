# PIO programs of the trigger engine. Cycle formulas: timing.py (asserted by tests/firmware);
# the word format the generator consumes: words.py and docs/program-format.md.
# ruff: noqa: F821 - @asm_pio adds the PIO DSL names to the function scope
import rp2
from rp2 import PIO


# ---------------------------------------------------------------------------------------------
# pulse_gen: one trigger output per state machine, fed one 32-bit word at a time by DMA.
#   side-set (1 pin, every instruction): the trigger output, 1 = active (the pad's idle level
#     is applied by the GPIO output override, so PIO always works active-high)
#   OUT pins (1 pin, only on the channel that owns the marker): the marker; mov pins writes it
#   IN pin 0: trigger_in (WAIT PIN), start modes trigger/gated
#   shift right, no autopull (explicit blocking pulls), TX FIFO joined (8 words)
#   1 tick = 1 cycle (clkdiv 1). Entry: `cmd` (forced jmp before the synchronous start).
#   Underrun: every pull runs with the output idle (side 0), so a late DMA word stalls the SM
#   with the output idle and sets FDEBUG.TXSTALL, which the engine reports as a fault.
#   X at `onset`: bit 0 = NOT marker (segment header) or 0xFFFFFFFF (after the low loop), so
#   `mov pins, ~x` raises the marker only with a marked segment's first pulse.
# Formulas (cycles): width = R_w + 3; period = width + R_l + 5; command pull -> first onset 7;
#   last onset -> next command pull = width + 2; wait = X + 4; long wait = X + 6.
# fmt: off
@rp2.asm_pio(sideset_init=PIO.OUT_LOW, out_init=PIO.OUT_LOW, out_shiftdir=PIO.SHIFT_RIGHT,
             fifo_join=PIO.JOIN_TX)
def pulse_gen():
    label("seg")                                    # 0  segment header          cycles
    out(x, 1)                   .side(0)            #    X = NOT marker            1
    out(y, 26)                  .side(0)            #    Y = count - 1             1
    pull()                      .side(0)            #    word 2: R_l               1
    mov(isr, osr)               .side(0)            #    ISR = R_l                 1
    pull()                      .side(0)            #    word 3: R_w (OSR keeps it) 1
    label("onset")                                  # 5
    mov(pins, invert(x))        .side(1)            #    rising edge (+ marker)    1
    mov(x, osr)                 .side(1)            #    X = R_w                   1
    label("hi")
    jmp(x_dec, "hi")            .side(1)            #    high loop                 R_w + 1
    mov(pins, null)             .side(0)            #    falling edge (+ marker)   1
    jmp(y_dec, "low")           .side(0)            #    more pulses? else -> cmd  1
    wrap_target()
    label("cmd")                                    # 10 command dispatch
    pull()                      .side(0)            #    next command word         1
    out(pc, 5)                  .side(0)            #    jump to bits 4:0          1
    label("low")                                    # 12
    mov(x, isr)                 .side(0)            #    X = R_l                   1
    label("lo")
    jmp(x_dec, "lo")            .side(0)            #    low loop                  R_l + 1
    jmp("onset")                .side(0)            #                              1
    label("trig_rising")                            # 15
    wait(0, pin, 0)             .side(0)            #    see trigger_in low ...
    wait(1, pin, 0)             .side(0)            #    ... then high: an edge
    jmp("cmd")                  .side(0)            #                              1
    label("trig_falling")                           # 18
    wait(1, pin, 0)             .side(0)
    wait(0, pin, 0)             .side(0)
    jmp("cmd")                  .side(0)
    label("end")                                    # 21 park: nothing sets flag 7
    wait(1, irq, 7)             .side(0)
    label("wait_long")                              # 22
    pull()                      .side(0)            #    X = next word             1
    mov(x, osr)                 .side(0)            #                              1
    jmp("wl")                   .side(0)            #                              1
    label("wait")                                   # 25
    out(x, 27)                  .side(0)            #    X = bits 31:5             1
    label("wl")
    jmp(x_dec, "wl")            .side(0)            #    X + 1, wraps to cmd
    wrap()
# fmt: on


# ---------------------------------------------------------------------------------------------
# edge_capture: timestamps every edge of one input (JMP_PIN) at 2-cycle resolution.
#   Y: down-counter, decremented exactly once per 2-cycle slot of the sampling loops and of the
#     wrap report, never in an event slot. Start: Y = 0xFFFFFFFE, PC = `low` or `high` (the
#     pin's idle level). Autopush at 32 bits, RX FIFO joined (8 words), drained by DMA.
#   Pushes: Y at each edge (never 0xFFFFFFFF), and 0xFFFFFFFF when Y wraps (every 2**33
#     cycles, ~68.7 s at 125 MHz); capture.PinDecoder rebuilds 64-bit cycles from them.
#   Slots (2 cycles each): sample (jmp pin) + decrement; event: sample + push; wrap: push +
#     decrement. A sample at cycle u sees the pad at u - 3. Samples are 2 cycles apart, 4 across
#     a wrap report; pulses of >= 4 cycles are therefore never missed.
#   An RX FIFO full stalls the push (FDEBUG.RXSTALL): reported as a capture-overflow fault.
# fmt: off
@rp2.asm_pio(autopush=True, push_thresh=32, fifo_join=PIO.JOIN_RX)
def edge_capture():
    wrap_target()
    label("high")                                   # 0  pin high
    jmp(pin, "hdec")                                #    still high? sample        1
    in_(y, 32)                                      # 1  fell: push Y (event)      1
    label("low")                                    # 2  pin low
    jmp(pin, "rise")                                #    sample                    1
    jmp(y_dec, "low")                               #    Y--, 2-cycle loop         1
    in_(y, 32)                                      #    Y wrapped: push marker    1
    jmp(y_dec, "low")                               #    (Y = 0xFFFFFFFF, taken)   1
    label("hdec")                                   # 6
    jmp(y_dec, "high")                              #    Y--, 2-cycle loop         1
    in_(y, 32)                                      #    Y wrapped: push marker    1
    jmp(y_dec, "high")                              #                              1
    label("rise")                                   # 9
    in_(y, 32)                                      #    rose: push Y; wraps to high
    wrap()
# fmt: on
