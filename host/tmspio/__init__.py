"""tmspio — cycle-exact TMS trigger trains from a Raspberry Pi Pico (PIO + MicroPython)."""

__version__ = "0.2.0"
