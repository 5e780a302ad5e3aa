"""The host console that all guests share: their lines, prefixed and coloured per guest."""
from __future__ import annotations

import re

from rich.text import Text

from vcpu.text import visible

COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta"]
LINE_MAX = 4096          # a console line longer than this is shown in pieces


class SharedConsole:
    """One host console for all guests. A single guest's bytes pass through untouched (so its
    output is byte-identical to the bare machine); with several guests each line is prefixed
    with the guest's name and colour, and lines are never interleaved."""

    def __init__(self, raw_write, err_console, multi: bool, *, escape: bool = False,
                 logs=None):
        self.raw_write = raw_write
        self.err = err_console
        self.multi = multi
        self.escape = escape           # a single guest on a terminal: controls made visible
        self.logs = logs               # hv.guard.ConsoleLogs: every byte, as it comes
        self.partial: dict[str, bytearray] = {}
        self.colour: dict[str, str] = {}
        self.width = 0

    def register(self, name: str) -> None:
        self.colour[name] = COLOURS[len(self.colour) % len(COLOURS)]
        self.partial[name] = bytearray()
        self.width = max(self.width, len(name))

    def write(self, vm, data: bytes) -> None:
        if self.logs is not None:
            self.logs.write(vm.name, data)
        if not self.multi:
            self.raw_write(_CONTROLS.sub(_caret, data) if self.escape else data)
            return
        buf = self.partial[vm.name]
        if b"\n" in data:
            lines = (bytes(buf) + data).split(b"\n")
            for line in lines[:-1]:
                self._emit(vm.name, line)
            buf[:] = lines[-1]
        else:
            buf += data
        # A guest that never ends its line must not grow the host without bound.
        while len(buf) >= LINE_MAX:
            self._emit(vm.name, bytes(buf[:LINE_MAX]) + " ↵".encode())
            del buf[:LINE_MAX]

    def finish(self, name: str) -> None:
        if self.multi and self.partial.get(name):
            self._emit(name, bytes(self.partial[name]))
            self.partial[name].clear()

    def _emit(self, name: str, line: bytes) -> None:
        prefix = f"[{visible(name)}]".ljust(self.width + 2)
        text = Text(prefix + " ", style=self.colour[name])
        # A guest's ESC[2K ESC[1G would erase its prefix and pass its line off as another
        # guest's: control characters are shown, not obeyed (^[ for ESC).
        text.append(visible(line, keep="\t"))
        self.out.print(text, soft_wrap=True)

    @property
    def out(self):
        from rich.console import Console
        if not hasattr(self, "_out"):
            self._out = Console(highlight=False)
        return self._out


# Byte-wise, for a single guest's raw stream (a UTF-8 sequence may span two writes, so C1
# controls are not caught here; the prefixed multi-guest console decodes whole lines).
_CONTROLS = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


def _caret(m) -> bytes:
    c = m.group()[0]
    return b"^?" if c == 0x7F else b"^" + bytes((c + 64,))
