"""The host's physical memory: one pool of 4 KiB frames that every guest is carved from.

Frames are zeroed when they are handed out, so a guest never sees what a previous owner
left behind.
"""
from __future__ import annotations

from vcpu.isa import PAGE_SIZE


class PoolExhausted(ValueError):
    pass


class MemoryPool:
    def __init__(self, size: int):
        if size % PAGE_SIZE:
            raise ValueError("pool size must be a multiple of 4 KiB")
        self.mem = bytearray(size)
        self.size = size
        self._free = list(range(size - PAGE_SIZE, -1, -PAGE_SIZE))   # pop() gives low frames first

    @property
    def free_frames(self) -> int:
        return len(self._free)

    def alloc(self, n: int) -> list[int]:
        if n > len(self._free):
            raise PoolExhausted(f"host memory exhausted: {n} frames asked, "
                                f"{len(self._free)} free of {self.size // PAGE_SIZE}")
        frames = [self._free.pop() for _ in range(n)]
        zero = bytes(PAGE_SIZE)
        for f in frames:
            self.mem[f:f + PAGE_SIZE] = zero
        return frames

    def release(self, frames: list[int]) -> None:
        self._free.extend(reversed(frames))
