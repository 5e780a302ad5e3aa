"""Guest mode of the cores (`hv boot --virt hw`): the values of the VMCS-like fields.

The same numbers are #defined in native/core.h; a test holds the two together.
See docs/hypervisor.md, "Guest mode", for what each control does.
"""
from __future__ import annotations

BARE, SHADOW, NESTED = 0, 1, 2          # core.gm

GM_EXIT_ALL = 1          # every privileged instruction exits, not retired (tracing)
GM_EXIT_PTBR = 2         # mtcr ptbr, and mtcr status that changes PG (shadow paging)
GM_EXIT_TLBFLUSH = 4     # tlbflush (shadow paging)
GM_EXIT_WFI = 8          # wfi

PORT_TIMER = 0x20        # ports a core can handle itself: the guest's virtual timer,
PORT_CONSOLE_OUT = 0x10  # and console output, posted to a buffer the host drains at exits
CONSOLE_POST = 256       # bytes that buffer holds


def io_bitmap(exits: set[int] | range) -> list[int]:
    """The I/O bitmap (8 words of 32 bits) with a bit set for each port that exits."""
    words = [0] * 8
    for p in exits:
        words[p >> 5] |= 1 << (p & 31)
    return words
