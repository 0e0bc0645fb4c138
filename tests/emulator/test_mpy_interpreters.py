"""The stand-ins under the real MicroPython unix port and the CPython fallback, via the runner:
identical, exact results from both, and the power-up loop after watchdog and soft resets."""

import json
import subprocess
import sys
import textwrap

import pytest
from test_asm_encodings import FORMS, SIDESET  # same directory (rootdir-relative import)
from tmspio.emulator import runner
from tmspio.emulator.mpy import pioasm

INTERPRETERS = ["micropython", "cpython"]

BLINK = textwrap.dedent(
    """
    import json
    from rp2040 import board as emuboard
    import machine
    import rp2
    import time

    @rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
    def blink():
        wrap_target()
        set(pins, 1)   [31]
        nop()          [31]
        set(pins, 0)   [31]
        nop()          [31]
        wrap()

    board = emuboard.current()
    seen = []
    machine.Pin(25).irq(lambda p: seen.append(board.cycle), trigger=machine.Pin.IRQ_RISING,
                        hard=True)
    sm = rp2.StateMachine(0, blink, freq=2000, set_base=machine.Pin(25))
    sm.active(1)
    before = board.cycle
    time.sleep_ms(40)
    print(json.dumps({"prog": list(blink[0]), "offset": blink[1], "trace": board.trace(25),
                      "irq": seen, "ticks": time.ticks_us(), "cycle": board.cycle,
                      "slept": board.cycle - before}))
    """
)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_blink_gives_the_same_exact_result_on_both_interpreters(interpreter):
    result = runner.run_script(BLINK, firmware=False, interpreter=interpreter)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # 2 kHz SM clock = /62500; each half period is 32 + 32 ticks = 4 000 000 cycles.
    rise = out["trace"][1][0]
    assert out["prog"] == [0xFF01, 0xBF42, 0xFF00, 0xBF42] and out["offset"] == 28
    assert out["trace"] == [[0, 0], [rise, 1], [rise + 4_000_000, 0]]
    assert out["irq"] == [rise]  # the hard handler ran at the edge cycle
    assert out["slept"] == 40 * 125_000
    assert out["ticks"] == out["cycle"] // 125


def test_both_interpreters_agree_byte_for_byte():
    outputs = [
        json.loads(runner.run_script(BLINK, firmware=False, interpreter=i).stdout)
        for i in INTERPRETERS
    ]
    assert outputs[0] == outputs[1]


def _assemble_here(body, kw):
    src = "def prog():\n" + "".join("    " + line + "\n" for line in body.splitlines())
    namespace = {}
    exec(compile(src, "<dsl>", "exec"), namespace)
    return pioasm.asm_pio(**kw)(namespace["prog"])


def test_every_dsl_form_assembles_identically_under_micropython():
    cases = [("nop()\nlabel('t')\n" + dsl, {}) for _, dsl in FORMS]
    cases += [(dsl, kw) for _, dsl, kw in SIDESET]
    script = textwrap.dedent(
        """
        import json
        import rp2

        CASES = {cases!r}
        out = []
        for body, kw in CASES:
            src = "def prog():\\n" + "".join("    " + l + "\\n" for l in body.split("\\n"))
            ns = {{}}
            exec(src, ns)
            prog = rp2.asm_pio(**kw)(ns["prog"])
            out.append([list(prog[0])] + prog[1:6])
        print(json.dumps(out))
        """
    ).format(cases=cases)
    result = runner.run_script(script, firmware=False, interpreter="micropython")
    assert result.returncode == 0, result.stderr
    expected = []
    for body, kw in cases:
        prog = _assemble_here(body, kw)
        expected.append([list(prog[0])] + prog[1:6])
    assert json.loads(result.stdout) == expected


WATCHDOG = textwrap.dedent(
    """
    import machine
    import time

    cause = machine.reset_cause()
    print("cause", cause)
    if cause == machine.PWRON_RESET:
        machine.freq(48_000_000)
        machine.Pin(25, machine.Pin.OUT, value=1)
        machine.WDT(timeout=10)
        print("armed")
        time.sleep_ms(100)
        print("not reached")
    else:
        time.sleep_ms(1)  # boot time is not modelled: let the synchroniser see the reset pad
        print("pin after reset", machine.Pin(25).value())
        print("after reset", machine.freq(), time.ticks_ms())
    """
)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_watchdog_starvation_restarts_the_script(interpreter):
    result = runner.run_script(WATCHDOG, firmware=False, interpreter=interpreter)
    assert result.returncode == 0, result.stderr
    # The watchdog reset also resets clk_sys (to 125 MHz) and the microsecond timer.
    assert result.stdout.split("\n") == [
        "cause 1",
        "armed",
        "cause 3",
        "pin after reset 0",
        "after reset 125000000 1",
        "",
    ]


SOFT_RESET = textwrap.dedent(
    """
    import machine
    import rp2
    from rp2040 import board as emuboard

    @rp2.asm_pio()
    def spin():
        nop()

    board = emuboard.current()  # survives the soft reset: count the boots on it
    board.boots = getattr(board, "boots", 0) + 1
    print("boot", board.boots, "ctrl", board.read32(0x50200000))
    if board.boots == 1:
        sm = rp2.StateMachine(1, spin)
        sm.active(1)
        machine.soft_reset()
    """
)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_soft_reset_reruns_and_disables_claimed_state_machines(interpreter):
    result = runner.run_script(SOFT_RESET, firmware=False, interpreter=interpreter)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == ["boot 1 ctrl 0", "boot 2 ctrl 0", ""]


def test_firmware_mode_runs_boot_then_main(tmp_path):
    (tmp_path / "boot.py").write_text("print('boot')\n")
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    (tmp_path / "main.py").write_text("import helper\nprint('main', helper.VALUE)\n")
    result = runner.run_script("-", firmware_dir=str(tmp_path))
    assert (result.returncode, result.stdout) == (0, "boot\nmain 42\n"), result.stderr


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_unmodelled_features_fail_loudly(interpreter):
    result = runner.run_script(
        "import machine\nmachine.lightsleep(5)\n", firmware=False, interpreter=interpreter
    )
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith(
        "EmulatorError: machine.lightsleep() is not modelled by the emulated board"
    )


def test_command_and_environment():
    argv = runner.command("x.py", ["a", 1], "/fw", "micropython")
    assert argv[1:] == [runner.MPY_DIR + "/emurun.py", "/fw", "x.py", "a", "1"]
    env = runner.environment("/fw", speed=2, env={})
    assert env == {"MICROPYPATH": runner.MPY_DIR + ":/fw:.frozen", "TMSPIO_EMU_SPEED": "2.0"}
    with pytest.raises(runner.RunnerError, match=r"^interpreter 'pypy': expected one of "):
        runner.command("x.py", interpreter="pypy")
    with pytest.raises(runner.RunnerError, match=r"^speed 'fast': expected 'max' or a positive"):
        runner.environment("/fw", speed="fast")


BROAD = textwrap.dedent(
    """
    import json
    from array import array
    from rp2040 import board as emuboard
    import machine
    import rp2
    import time

    board = emuboard.current()
    out = {}

    @rp2.asm_pio(out_init=(rp2.PIO.OUT_LOW,) * 8, out_shiftdir=rp2.PIO.SHIFT_RIGHT)
    def paced():
        pull()
        out(pins, 8)   [30]

    @rp2.asm_pio()
    def echo():
        pull()
        mov(isr, invert(osr))
        push()

    sm = rp2.StateMachine(0, paced, freq=125_000, out_base=0)
    words = array("I", [1, 0] * 3)
    dma = rp2.DMA()
    done = []
    dma.irq(lambda d: done.append(d.irq().flags()), hard=True)
    ctrl = dma.pack_ctrl(inc_write=False, treq_sel=0, irq_quiet=False)
    dma.config(read=words, write=sm, count=len(words), ctrl=ctrl, trigger=True)
    sm.active(1)
    time.sleep_ms(3)
    edges = board.trace(0)[1:]
    out["dma_gaps"] = [b[0] - a[0] for a, b in zip(edges, edges[1:])]
    out["dma_done"] = done
    out["unpack"] = sorted(rp2.DMA.unpack_ctrl(ctrl).items())
    regs = dma.registers
    out["regs"] = [len(regs), regs[2], len(regs[4:])]

    e = rp2.StateMachine(1, echo)
    e.put(array("H", [1, 2]), 4)
    e.put(bytearray(b"\x07"))
    e.active(1)
    buf = array("h", [0, 0])
    e.get(buf)
    out["echo"] = list(buf) + [e.get()]
    out["levels"] = [e.tx_fifo(), e.rx_fifo()]

    seen = []
    p = machine.Pin(9, machine.Pin.IN, machine.Pin.PULL_DOWN)
    p.irq(lambda pin: seen.append((pin.irq().flags(), board.cycle)), trigger=machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)
    t0 = board.cycle
    board.drive(9, 1, at=t0 + 1000)
    board.drive(9, 0, at=t0 + 3000)
    time.sleep_ms(1)
    out["pin_irq"] = [(f, c - t0) for f, c in seen]
    machine.mem32[0x50200038] = 0xFFFFFFFF
    out["mem"] = [machine.mem32[0x50200038], machine.mem16[0x5020003A], machine.mem8[0x50200039]]
    out["repr"] = [repr(p), repr(sm), repr(rp2.PIO(1)), repr(dma)]
    try:
        machine.mem32[0x50200039]
    except ValueError as err:
        out["align"] = str(err)
    try:
        rp2.StateMachine(2, echo, pull_thresh=32)
    except Exception as err:
        out["quirk"] = type(err).__name__
    out["ticks"] = [time.ticks_diff(5, (1 << 30) - 5), time.ticks_add((1 << 30) - 1, 2)]
    out["encode"] = rp2.asm_pio_encode("set(pins, 1).side(1)", 1)
    print(json.dumps(out))
    """
)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_broad_api_tour_gives_exact_results(interpreter):
    result = runner.run_script(BROAD, firmware=False, interpreter=interpreter)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "dma_gaps": [32000] * 5,  # one word per 32 SM ticks of 1000 cycles, DREQ-paced
        "dma_done": [1],
        "unpack": [
            ["ahb_err", 0],
            ["bswap", 0],
            ["busy", 0],
            ["chain_to", 0],
            ["enable", 1],
            ["high_pri", 0],
            ["inc_read", 1],
            ["inc_write", 0],
            ["irq_quiet", 0],
            ["read_err", 0],
            ["ring_sel", 0],
            ["ring_size", 0],
            ["size", 2],
            ["sniff_en", 0],
            ["treq_sel", 0],
            ["write_err", 0],
        ],
        "regs": [16, 0, 12],
        "echo": [-17, -33, 0xFFFFFFF8],  # ~(1 << 4), ~(2 << 4) as int16; ~7 as a word
        "levels": [0, 0],
        "pin_irq": [[8, 1001], [4, 3001]],  # soft handlers right after each edge's cycle
        "mem": [-1, 0xFFFF, 0xFF],
        "repr": ["Pin(GPIO9, mode=IN, pull=PULL_DOWN)", "StateMachine(0)", "PIO(1)", "DMA(0)"],
        "align": "address 50200039 is not aligned to 4 bytes",
        "quirk": "EmulatorError",
        "ticks": [10, 1],
        "encode": 0xF001,
    }


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_power_up_wires_the_board_files_jumpers(tmp_path, interpreter):
    (tmp_path / "board.json").write_text(
        json.dumps({"pins": {"estop": 12}, "loopback": [[2, 11]], "rig": {"estop_driver": 5}})
    )
    (tmp_path / "main.py").write_text(
        textwrap.dedent(
            """
        import machine, time
        from rp2040 import board as emuboard
        board = emuboard.current()
        machine.Pin(2, machine.Pin.OUT, value=1)
        machine.Pin(5, machine.Pin.OUT, value=0)
        time.sleep_us(1)
        print(board.level(11), board.level(12))
        machine.Pin(5, machine.Pin.OUT, value=1)
        time.sleep_us(1)
        print(board.level(11), board.level(12))
        """
        )
    )
    result = runner.run_script("-", firmware_dir=str(tmp_path), interpreter=interpreter)
    assert (result.returncode, result.stdout) == (0, "1 0\n1 1\n"), result.stderr


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_real_time_pacing_on_the_board_interpreter(interpreter):
    script = textwrap.dedent(
        """
        import time
        try:
            import utime as host
        except ImportError:
            import time as host
        time.sleep_ms(1)  # anchors the pace
        start = host.time_ns()
        time.sleep_ms(200)
        print((host.time_ns() - start) // 1000000)
        """
    )
    paced = runner.run_script(script, firmware=False, interpreter=interpreter, speed=1)
    free = runner.run_script(script, firmware=False, interpreter=interpreter, speed="max")
    assert int(paced.stdout) >= 199, paced.stderr  # real time, less the anchor's rounding
    assert int(free.stdout) < 100, free.stderr


@pytest.mark.parametrize("flag", [[], ["--cpython"]])
def test_runner_command_line(tmp_path, flag):
    script = tmp_path / "hello.py"
    script.write_text("import sys, time\ntime.sleep_ms(3)\nprint(sys.argv[1:], time.ticks_ms())\n")
    result = subprocess.run(
        [sys.executable, "-m", "tmspio.emulator.runner", *flag, "--no-firmware", str(script), "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "['x'] 3\n"), result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "tmspio.emulator.runner", "--speed", "0", "x.py"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (bad.returncode, bad.stderr) == (
        2,
        "tmspio.emulator.runner: error: speed '0': expected 'max' or a positive number\n",
    )


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_reset_never_reimports_the_stand_ins(interpreter):
    # The "flash" dir is a parent of mpy/: forgetting its modules must spare the stand-ins.
    script = textwrap.dedent(
        """
        import machine, rp2
        from rp2040 import board as emuboard
        board = emuboard.current()
        if not hasattr(board, "rp2_id"):
            board.rp2_id = id(rp2)
            machine.soft_reset()
        print(board.rp2_id == id(rp2))
        """
    )
    result = runner.run_script(script, firmware_dir=runner.HERE, interpreter=interpreter)
    assert (result.returncode, result.stdout) == (0, "True\n"), result.stderr
