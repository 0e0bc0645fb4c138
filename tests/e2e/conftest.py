"""tests/e2e: the command loop imports firmware modules top level (`import wire`) as on the board."""

import os
import sys

FIRMWARE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "firmware"))
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)
