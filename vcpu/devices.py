"""Port-I/O devices and the bus they sit on.

A device claims a range of ports and answers reads and writes. It reaches the rest of the
machine only through a *platform* (the bare machine, or a guest's virtual machine under the
hypervisor), so the same device model serves both:

    platform.set_timer(period)        program the (virtual) timer
    platform.raise_irq(bits)          make an interrupt pending
    platform.dma_read(gpa, n) -> bytes / dma_write(gpa, data)   guest-physical memory;
                                      raise DMAError outside the guest's memory
    platform.power_off(status)        stop the machine
"""
from __future__ import annotations

import os
import select
import sys
from typing import Callable

from .isa import Irq, Port

M32 = 0xFFFF_FFFF
SECTOR = 512


class DMAError(Exception):
    """A DMA transfer that would leave the guest's memory."""


class BusError(ValueError):
    pass


class Device:
    name = "device"
    ports: range = range(0)

    def read(self, port: int) -> int:
        return 0

    def write(self, port: int, value: int) -> None:
        pass

    def save(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass

    def close(self) -> None:
        """The machine stops: persist what must be persisted."""


class Bus:
    """Routes port accesses to devices; overlapping port ranges are refused."""

    def __init__(self):
        self.devices: list[Device] = []
        self._by_port: dict[int, Device] = {}

    def attach(self, dev: Device) -> Device:
        for p in dev.ports:
            if p in self._by_port:
                raise BusError(f"{dev.name}: port 0x{p:02x} already belongs to "
                               f"{self._by_port[p].name}")
        for p in dev.ports:
            self._by_port[p] = dev
        self.devices.append(dev)
        return dev

    def read(self, port: int) -> int:
        dev = self._by_port.get(port)
        return dev.read(port) & M32 if dev else 0

    def write(self, port: int, value: int) -> None:
        dev = self._by_port.get(port)
        if dev:
            dev.write(port, value & M32)

    def close(self) -> None:
        for d in self.devices:
            d.close()

    def save(self) -> dict:
        return {d.name: d.save() for d in self.devices}

    def restore(self, state: dict) -> None:
        for d in self.devices:
            if d.name in state:
                d.restore(state[d.name])


class ConsoleInput:
    """Bytes the console hands to `in rX, 0x11`: a fixed string, or the process's stdin."""

    def __init__(self, data: bytes | None = None, stdin=None):
        self.data = bytearray(data or b"")
        self.pos = 0
        self.stdin = stdin

    @classmethod
    def from_stdin(cls) -> "ConsoleInput":
        stdin = sys.stdin
        if stdin is None or stdin.closed:
            return cls(b"")
        if stdin.isatty():
            return cls(b"", stdin=stdin)          # interactive: poll without blocking
        return cls(stdin.buffer.read())            # piped or redirected: deterministic

    def next_byte(self) -> int:
        if self.pos < len(self.data):
            b = self.data[self.pos]
            self.pos += 1
            return b
        if self.stdin is not None:
            ready, _, _ = select.select([self.stdin], [], [], 0)
            if ready:
                chunk = os.read(self.stdin.fileno(), 1)
                if chunk:
                    return chunk[0]
        return M32   # -1: nothing to read


class Console(Device):
    name = "console"
    ports = range(Port.CONSOLE_OUT, Port.CONSOLE_IN + 1)

    def __init__(self, write: Callable[[bytes], None], input: ConsoleInput | None = None):
        self._write = write
        self.input = input or ConsoleInput()

    def read(self, port: int) -> int:
        return self.input.next_byte() if port == Port.CONSOLE_IN else 0

    def write(self, port: int, value: int) -> None:
        if port == Port.CONSOLE_OUT:
            self._write(bytes((value & 0xFF,)))

    def save(self) -> dict:
        return {"input": bytes(self.input.data[self.input.pos:]).hex()}

    def restore(self, state: dict) -> None:
        self.input.data = bytearray(bytes.fromhex(state.get("input", "")))
        self.input.pos = 0


class Timer(Device):
    name = "timer"
    ports = range(Port.TIMER, Port.TIMER + 1)

    def __init__(self, platform):
        self.platform = platform

    def write(self, port: int, value: int) -> None:
        self.platform.set_timer(value)


class Power(Device):
    name = "power"
    ports = range(Port.POWER, Port.POWER + 1)

    def __init__(self, platform):
        self.platform = platform

    def write(self, port: int, value: int) -> None:
        self.platform.power_off(value)


class Disk(Device):
    """A block device backed by an image file; DMA to guest-physical memory.

    Commands complete during the `out` that issues them. Writes stay in memory until the
    guest flushes (command 3) or the machine stops, then reach the file."""
    name = "disk"
    ports = range(Port.DISK_SECTOR, Port.DISK_IRQ + 1)
    OK, NO_DISK, BAD_SECTOR, BAD_DMA, BAD_CMD = 0, 1, 2, 3, 4

    def __init__(self, platform, path: str | None = None):
        self.platform = platform
        self.path = path
        self.data = bytearray()
        if path is not None:
            with open(path, "rb") as f:
                self.data = bytearray(f.read())
            if len(self.data) % SECTOR:
                self.data += bytes(SECTOR - len(self.data) % SECTOR)
        self.dirty = False
        self.sector = self.addr = self.count = 0
        self.status = self.OK if path is not None else self.NO_DISK
        self.irq_enabled = False
        self.reads = self.writes = 0

    @property
    def sectors(self) -> int:
        return len(self.data) // SECTOR

    def read(self, port: int) -> int:
        if port == Port.DISK_CMD:
            return self.status
        if port == Port.DISK_SIZE:
            return self.sectors
        return 0

    def write(self, port: int, value: int) -> None:
        if port == Port.DISK_SECTOR:
            self.sector = value
        elif port == Port.DISK_ADDR:
            self.addr = value
        elif port == Port.DISK_COUNT:
            self.count = value
        elif port == Port.DISK_IRQ:
            self.irq_enabled = bool(value & 1)
        elif port == Port.DISK_CMD:
            self.status = self._command(value)
            if self.irq_enabled:
                self.platform.raise_irq(Irq.DEVICE)

    def _command(self, cmd: int) -> int:
        if self.path is None:
            return self.NO_DISK
        if cmd == 3:
            self.flush()
            return self.OK
        if cmd not in (1, 2):
            return self.BAD_CMD
        # Python integers do not wrap, so sector × size and addr + length cannot overflow
        # into a small, valid-looking range the way 32-bit arithmetic would.
        if self.sector + self.count > self.sectors:
            return self.BAD_SECTOR
        start, n = self.sector * SECTOR, self.count * SECTOR
        try:
            if cmd == 1:
                self.platform.dma_write(self.addr, bytes(self.data[start:start + n]))
                self.reads += self.count
            else:
                self.data[start:start + n] = self.platform.dma_read(self.addr, n)
                self.writes += self.count
                self.dirty = True
        except DMAError:
            return self.BAD_DMA
        return self.OK

    def flush(self) -> None:
        if self.dirty and self.path is not None:
            with open(self.path, "r+b") as f:
                f.write(self.data)
            self.dirty = False

    def close(self) -> None:
        self.flush()

    def save(self) -> dict:
        return {"sector": self.sector, "addr": self.addr, "count": self.count,
                "status": self.status, "irq": self.irq_enabled}

    def restore(self, state: dict) -> None:
        self.sector, self.addr, self.count = state["sector"], state["addr"], state["count"]
        self.status, self.irq_enabled = state["status"], state["irq"]


def standard_devices(platform, console_write, console_input=None, disk_path=None) -> Bus:
    """The machine's fixed devices: console, timer, power and the disk."""
    bus = Bus()
    bus.attach(Console(console_write, console_input))
    bus.attach(Timer(platform))
    bus.attach(Power(platform))
    bus.attach(Disk(platform, disk_path))
    return bus
