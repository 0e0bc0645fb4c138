"""A stand-in for the few PsychoPy calls the examples make, for running them where PsychoPy is
not installed (tests/api/test_examples.py in `make test`). It is NOT PsychoPy: nothing is
drawn, `event.waitKeys` answers at once with the first key it is asked for (as if the
participant pressed it) and `event.getKeys` reports no key. With PsychoPy installed the
examples import the real modules and never this file."""

import sys
import time


class _Core:
    class Clock:
        def __init__(self):
            self._t0 = time.perf_counter()

        def getTime(self):
            return time.perf_counter() - self._t0

        def reset(self):
            self._t0 = time.perf_counter()

    @staticmethod
    def wait(seconds, hogCPUperiod=0.2):
        time.sleep(seconds)

    @staticmethod
    def quit():
        pass


class _Visual:
    class Window:
        def __init__(self, size=(800, 600), fullscr=False, color="black", units="height"):
            self.size = size
            print(
                "PsychoPy stand-in: no window, keys answered by examples/_psychopy_standin.py",
                file=sys.stderr,
            )
            print(
                "PsychoPy stand-in: no window, keys answered by examples/_psychopy_standin.py",
                file=sys.stderr,
            )

        def flip(self):
            return time.perf_counter()

        def callOnFlip(self, fn, *args, **kwargs):
            fn(*args, **kwargs)

        def close(self):
            pass

    class TextStim:
        def __init__(self, win, text="", height=0.05, pos=(0, 0), color="white"):
            self.win = win
            self.text = text

        def draw(self):
            pass


class _Event:
    @staticmethod
    def waitKeys(keyList=None, maxWait=float("inf")):
        return [keyList[0]] if keyList else ["space"]

    @staticmethod
    def getKeys(keyList=None):
        return []


core = _Core()
visual = _Visual()
event = _Event()
