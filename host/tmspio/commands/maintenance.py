"""tmspio maintenance: stop the firmware (outputs idle) and hand the port to MicroPython's REPL."""

from .. import deploy, link
from ._common import add_link_argument, link_scale

HELP = (
    "stop the tmspio firmware (outputs idle; refused while a program is armed or running) "
    "and hand the port to the MicroPython REPL for mpremote; Ctrl-D there restarts it"
)


def add_arguments(p):
    p.add_argument("--port", help="serial port or URL (default: the one Pico attached)")
    add_link_argument(p)


def run(args):
    scale = link_scale(args)
    port = args.port or link.find_board(emulator_option=False)
    if deploy.open_repl(port, scale):
        print(f"tmspio firmware on {port} stopped; outputs idle")
    else:
        print(
            f"no tmspio firmware answered on {port}: it is at the REPL already, or runs "
            "something else (mpremote interrupts that)"
        )
    print(
        f"MicroPython REPL on {port}: `mpremote connect {port} repl`; Ctrl-D at the REPL "
        "(or a power cycle) starts the firmware again"
    )
    return 0
