# Test double of the firmware's main.py: the real command loop (service.py) over the real
# stdin/stdout of the MicroPython unix port, with a fake engine whose edges are the planned ones
# released in accelerated real time. It tests the link, not the timing engine.
import json

import fakeengine
import service

with open("board.json") as f:
    cfg = json.load(f)
service.run(fakeengine.FakeEngine(cfg), cfg)
