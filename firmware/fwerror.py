# The firmware's one exception class. code: a short word the command loop puts in its error reply
# ("format", "limit", "timing", "state", "board", "resource", "fault"); text names the field, the
# value and what is allowed.


class FirmwareError(Exception):
    def __init__(self, code, text):
        super().__init__(code + ": " + text)
        self.code = code
        self.text = text
