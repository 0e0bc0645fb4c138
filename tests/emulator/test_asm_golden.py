"""Golden PIO words from external sources (tests/emulator/golden/*.hex) against the DSL."""

# ruff: noqa: F821 - @asm_pio bodies use DSL names that exist only while they run

import os

import adafruit_pioasm
from tmspio.emulator.mpy import pioasm

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def golden(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return [int(word, 16) for word in f.read().split()]


def test_squarewave_matches_the_pico_examples_hex():
    # fmt: off
    @pioasm.asm_pio(set_init=2)
    def squarewave():
        set(pindirs, 1)         # set pin to output
        label("again")
        set(pins, 1)   [1]      # high for 2 cycles
        set(pins, 0)            # low for 1 cycle
        jmp("again")            # 1 cycle
    # fmt: on

    assert list(squarewave[0]) == golden("squarewave.hex")
    text = ".program squarewave\nset pindirs, 1\nagain:\nset pins, 1 [1]\nset pins, 0\njmp again\n"
    assert list(adafruit_pioasm.Program(text).assembled) == golden("squarewave.hex")


def test_blink_matches_the_documented_v1_28_words():
    # fmt: off
    @pioasm.asm_pio(set_init=2)
    def blink_1hz():
        wrap_target()
        set(pins, 1)   [31]
        nop()          [31]
        set(pins, 0)   [31]
        nop()          [31]
        wrap()
    # fmt: on

    assert list(blink_1hz[0]) == golden("blink_1hz.hex")
