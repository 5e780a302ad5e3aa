"""Guest bytes made safe to show on the host's terminal.

A guest (or a file, or a source line) can print ESC[2K ESC[1G and erase the prefix that
names it, move the cursor, or change the window title. Wherever the host shows such text
beside its own (the shared console, trace views, error messages that echo a line) control
characters are shown visibly instead: ^[ for ESC, ^M for a carriage return, ^? for DEL,
<U+009B> for C1 controls and <U+202E> for the bidirectional overrides that reorder a line.
"""
from __future__ import annotations

_TABLE = {c: f"^{chr(c + 64)}" for c in range(32)}
_TABLE[0x7F] = "^?"
for _c in range(0x80, 0xA0):
    _TABLE[_c] = f"<U+{_c:04X}>"
for _c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
    _TABLE[_c] = f"<U+{_c:04X}>"


def visible(text: str | bytes, keep: str = "") -> str:
    """`text` with every control character made visible, except those in `keep` (e.g. "\\t")."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    table = _TABLE if not keep else {k: v for k, v in _TABLE.items() if chr(k) not in keep}
    return text.translate(table)
