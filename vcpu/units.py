"""Memory sizes as people write them: '64K', '1M', '65536'."""
from __future__ import annotations

from .isa import PAGE_SIZE


def parse_size(text: str) -> int:
    """'64K', '1M', '65536' -> bytes: a multiple of 4 KiB, at most 1 GiB."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    if t and t[-1] in "KMG":
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[t[-1]]
        t = t[:-1]
    try:
        n = int(t, 0) * mult
    except ValueError:
        raise ValueError(f"bad memory size {text!r} (try 64K, 1M)") from None
    if n < PAGE_SIZE or n % PAGE_SIZE or n > 1 << 30:
        raise ValueError(f"memory size {text!r} must be a multiple of 4K between 4K and 1G")
    return n
