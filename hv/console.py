"""The host console that all guests share: their lines, prefixed and coloured per guest."""
from __future__ import annotations

from rich.text import Text

COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta"]
LINE_MAX = 4096          # a console line longer than this is shown in pieces


class SharedConsole:
    """One host console for all guests. A single guest's bytes pass through untouched (so its
    output is byte-identical to the bare machine); with several guests each line is prefixed
    with the guest's name and colour, and lines are never interleaved."""

    def __init__(self, raw_write, err_console, multi: bool):
        self.raw_write = raw_write
        self.err = err_console
        self.multi = multi
        self.partial: dict[str, bytearray] = {}
        self.colour: dict[str, str] = {}
        self.width = 0

    def register(self, name: str) -> None:
        self.colour[name] = COLOURS[len(self.colour) % len(COLOURS)]
        self.partial[name] = bytearray()
        self.width = max(self.width, len(name))

    def write(self, vm, data: bytes) -> None:
        if not self.multi:
            self.raw_write(data)
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
        prefix = f"[{name}]".ljust(self.width + 2)
        text = Text(prefix + " ", style=self.colour[name])
        text.append(line.decode("utf-8", "replace"))
        self.out.print(text, soft_wrap=True)

    @property
    def out(self):
        from rich.console import Console
        if not hasattr(self, "_out"):
            self._out = Console(highlight=False)
        return self._out
