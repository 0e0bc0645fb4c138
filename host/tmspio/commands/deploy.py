"""tmspio deploy: firmware and board file onto a board with mpremote, verified and handshaken."""

from .. import boards, deploy, link
from ._common import add_link_argument, link_scale

HELP = "upload the firmware (mpy-cross compiled) and a board file with mpremote, verify, reset"


def add_arguments(p):
    p.add_argument("--port", help="serial port or URL (default: the one Pico attached)")
    p.add_argument(
        "--board", default="pico", help="board file name in boards/ or a path (default: pico)"
    )
    add_link_argument(p)


def run(args):
    boards.load_board(args.board)  # validated before anything is written to the board
    scale = link_scale(args)
    port = args.port or link.find_board(emulator_option=False)
    link.open_port(port).close()  # a missing or busy port is named before mpremote runs
    deploy.deploy(port, boards.board_path(args.board), scale=scale)
    return 0
