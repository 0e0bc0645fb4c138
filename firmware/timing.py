# Cycle arithmetic of the PIO programs in pioprogs.py: label addresses and exact cycle formulas.
# Pure (no rp2 import) so the word builder, the capture decoder, the host and the tests share it.
# Every number here is asserted against the emulated board by tests/firmware.
# "cycle" = one sysclk cycle; the generator and capture state machines run at clkdiv 1.

# --- pulse generator (pioprogs.pulse_gen): label addresses relative to the load offset -------
GEN_SEG = 0  # segment header (entered through a command word)
GEN_ONSET = 5  # rising edge instruction of every pulse
GEN_CMD = 10  # command dispatch: pull + out pc (wrap target, start PC)
GEN_TRIG_RISING = 15  # wait for a rising edge of trigger_in, then dispatch
GEN_TRIG_FALLING = 18  # wait for a falling edge of trigger_in, then dispatch
GEN_END = 21  # park: stalls forever with the output idle
GEN_WAIT_LONG = 22  # wait: next word is the loop count
GEN_WAIT = 25  # wait: loop count in bits 31:5 of the command word
GEN_LENGTH = 27  # instructions

# Cycle formulas (R_w, R_l, X are the loop counts carried by the words):
WIDTH_OVERHEAD = 3  # width = R_w + 3          (onset, mov x, hi loop R_w + 1)
LOW_OVERHEAD = 5  # period - width = R_l + 5  (fall, jmp y--, mov x, lo loop R_l + 1, jmp)
SEG_LEAD = 7  # command pull -> onset instruction of the segment's first pulse
SEG_TAIL = 2  # last onset + width + 2 = the next command pull
WAIT_OVERHEAD = 4  # short wait: X + 4 cycles, X < 2**27
WAIT_LONG_OVERHEAD = 6  # long wait: X + 6 cycles, X < 2**32
WAIT_SHORT_MAX = (1 << 27) - 1
WAIT_LONG_MAX = 0xFFFFFFFF
TRIG_TO_CMD = 2  # wait-for-edge completes -> next command pull (jmp cmd)
MAX_COUNT = 1 << 26  # count - 1 travels in 26 bits of the command word

# Minimum field values that follow from the overheads (all well below 1 us at 125 MHz):
MIN_WIDTH = 4  # R_w >= 1; 4 also guarantees the capture never misses a pulse (see CAPTURE_*)
MIN_LOW = LOW_OVERHEAD  # period - width >= 5
MIN_WAIT = WAIT_OVERHEAD  # every wait command lasts at least 4 cycles
MIN_GAP_SLACK = SEG_TAIL + SEG_LEAD + MIN_WAIT  # gap - width >= 13 (a wait always sits between)

# Latencies. OUTPUT_LATENCY: PIO output register -> pad (1 cycle); INPUT_LATENCY: pad -> the
# value a WAIT/JMP PIN sees, through the 2-flip-flop synchroniser and the input register.
OUTPUT_LATENCY = 1
INPUT_LATENCY = 3
# Every program opens with a wait (the channel delay, >= 4 cycles) before its first segment, so
# from the first state-machine cycle to the first onset *instruction* it is delay + ONSET_LATENCY.
ONSET_LATENCY = WAIT_OVERHEAD + SEG_LEAD  # 11
# trigger_in pad edge -> first trigger output pad edge (delay 0), start mode trigger or gated:
# the WAIT sees the edge INPUT_LATENCY later, jmp + pull (TRIG_TO_CMD), wait(delay) + segment
# lead (ONSET_LATENCY), output register (OUTPUT_LATENCY).
TRIGGER_LATENCY = INPUT_LATENCY + TRIG_TO_CMD + ONSET_LATENCY + OUTPUT_LATENCY  # 17

# --- edge capture (pioprogs.edge_capture) -------------------------------------------------
CAP_HIGH = 0  # sampling loop while the pin is high (wrap target)
CAP_LOW = 2  # sampling loop while the pin is low
CAP_LENGTH = 10
CAP_Y0 = 0xFFFFFFFE  # Y at start; Y is decremented exactly once per 2-cycle slot ...
CAP_WRAP_MARK = 0xFFFFFFFF  # ... except event slots; a wrap pushes this marker (never an event)
CAP_SLOT = 2  # cycles per slot: one sample every 2 cycles (4 across a wrap report, every 2**33)
CAPTURE_LATENCY = INPUT_LATENCY  # a sample at cycle u sees the pad as it was at u - 3

# --- gated mode ------------------------------------------------------------------------------
# An edge of trigger_in at pad cycle d is accepted when the generator is armed; it re-arms so that
# the next edge is accepted iff it comes at d + refractory or later. From the accepted edge to
# the re-arming trigger command: INPUT_LATENCY + TRIG_TO_CMD + wait(delay) + SEG_LEAD + pulses +
# width + SEG_TAIL + wait(rest) = refractory, which fixes the rest wait:
GATED_OVERHEAD = INPUT_LATENCY + TRIG_TO_CMD + WAIT_OVERHEAD + SEG_LEAD + SEG_TAIL  # 18
GATED_SLACK = GATED_OVERHEAD + MIN_WAIT  # refractory >= delay + (count-1)*period + width + 22
