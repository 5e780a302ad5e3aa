"""Port-I/O devices and the bus they sit on.

A device claims a range of ports and answers reads and writes. It reaches the rest of the
machine only through a *platform* (the bare machine, or a guest's virtual machine under the
hypervisor), so the same device model serves both:

    platform.set_timer(period)        program the (virtual) timer
    platform.raise_irq(bits)          make an interrupt pending
    platform.dma_read(gpa, n) -> bytes / dma_write(gpa, data)   guest-physical memory;
                                      raise DMAError outside the guest's memory
    platform.power_off(status)        stop the machine
    platform.send_ipi(cpu)            an inter-processor interrupt from the CPU doing the I/O
                                      to CPU `cpu` (ignored when there is no such CPU)
"""
from __future__ import annotations

import fcntl
import io
import os
import select
import sys
from typing import Callable

from .isa import DiskCmd, DiskStatus, Irq, Port

M32 = 0xFFFF_FFFF
SECTOR = 512


class DMAError(Exception):
    """A DMA transfer that would leave the guest's memory."""


class BusError(ValueError):
    pass


class OutputTail(bytearray):
    """A guest's console output as the host keeps it: the last `keep` bytes (for failure
    reports and tests), while `total` counts every byte. The console itself streams each byte
    on as it comes, so a flooding guest costs the host a bounded buffer."""
    KEEP = 1 << 20

    def __init__(self, keep: int | None = None):
        super().__init__()
        self.keep = keep or self.KEEP
        self.total = 0

    def __iadd__(self, data):
        super().__iadd__(data)
        self.total += len(data)
        if len(self) > 2 * self.keep:           # trimmed rarely: amortised O(1) per byte
            del self[:len(self) - self.keep]
        return self

    @property
    def truncated(self) -> bool:
        return self.total > len(self)


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
    """Bytes the console hands to `in rX, 0x11`: a fixed string, a stream, or the process's
    stdin. A stream is read lazily, a chunk at a time when the guest asks for a byte, so a
    endless pipe (`yes |`) costs a bounded buffer and a slow one (`sleep 30 |`) does not
    delay the guest's output. A pipe or a file blocks until data or end of file (the guest
    sees the same bytes on every run); a terminal is polled without blocking."""

    CHUNK = 4096

    def __init__(self, data: bytes | None = None, stdin=None, stream=None):
        self.data = bytearray(data or b"")
        self.pos = 0
        self.stdin = stdin          # a terminal: poll
        self.stream = stream        # a pipe or file: read on demand, blocking

    @classmethod
    def from_stdin(cls) -> "ConsoleInput":
        stdin = sys.stdin
        if stdin is None or stdin.closed:
            return cls(b"")
        if stdin.isatty():
            return cls(b"", stdin=stdin)          # interactive: poll without blocking
        return cls(stream=stdin.buffer)            # piped or redirected: deterministic

    def next_byte(self) -> int:
        if self.pos >= len(self.data) and self.stream is not None:
            self._fill()
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

    def drain(self, limit: int = 16 << 20) -> None:
        """Read a piped input to its end (at most `limit` bytes) into the buffer: a snapshot
        then holds every byte the guest has yet to read. A terminal is left alone."""
        rest = self.data[self.pos:]
        while self.stream is not None and len(rest) < limit:
            self._fill()
            rest += self.data
        self.data, self.pos = rest, 0

    def _fill(self) -> None:
        try:
            try:
                chunk = os.read(self.stream.fileno(), self.CHUNK)
            except (AttributeError, io.UnsupportedOperation):
                chunk = self.stream.read(self.CHUNK)     # an in-memory stream
        except OSError:
            chunk = b""                                  # unreadable: end of input
        self.data = bytearray(chunk or b"")
        self.pos = 0
        if not chunk:
            self.stream = None                    # end of input: -1 from now on


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


class IPI(Device):
    """`out 0x21, rX`: an inter-processor interrupt to CPU rX (brief §11)."""
    name = "ipi"
    ports = range(Port.IPI, Port.IPI + 1)

    def __init__(self, platform):
        self.platform = platform

    def write(self, port: int, value: int) -> None:
        self.platform.send_ipi(value)


class Power(Device):
    name = "power"
    ports = range(Port.POWER, Port.POWER + 1)

    def __init__(self, platform):
        self.platform = platform

    def write(self, port: int, value: int) -> None:
        self.platform.power_off(value)


class DiskError(ValueError):
    """A disk image that cannot be attached (one line, for the user)."""


class Disk(Device):
    """A block device backed by an image file; DMA to guest-physical memory.

    Commands complete during the `out` that issues them. Sectors are read from and written to
    the file itself (never the whole image into memory, so a large sparse image costs
    nothing); a flush (command 3) and every stop fsync the file, so a write the guest was told
    succeeded survives the host. The image is opened for writing when attached, and held
    under an advisory lock (flock) while attached: an image that cannot be written, or that
    another guest or hv process holds, is refused before anything runs. A host I/O error
    during a command fails that command with status 5 and touches nothing else."""
    name = "disk"
    ports = range(Port.DISK_SECTOR, Port.DISK_IRQ + 1)
    OK, NO_DISK, BAD_SECTOR, BAD_DMA, BAD_CMD, IO_ERROR, TOO_LARGE = (int(s) for s in DiskStatus)
    # The most sectors one command moves (1 MiB), as real controllers bound a transfer: one
    # `out` cannot hold the host for longer than that copy.
    MAX_SECTORS = 2048
    CHUNK = 64 * 1024            # bytes per host transfer: bounds the host buffer of a request

    def __init__(self, platform, path: str | None = None):
        self.platform = platform
        self.path = path
        self.file = None
        self.size = 0
        self.error = ""              # the last host I/O error, for the summary
        if path is not None:
            self.file = open_image(path)
            self.size = os.fstat(self.file.fileno()).st_size
        self.dirty = False
        self.sector = self.addr = self.count = 0
        self.status = self.OK if path is not None else self.NO_DISK
        self.irq_enabled = False
        self.reads = self.writes = 0

    @property
    def sectors(self) -> int:
        return -(-self.size // SECTOR)

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
        if cmd == DiskCmd.FLUSH:
            return self.OK if self.flush() else self.IO_ERROR
        if cmd not in (DiskCmd.READ, DiskCmd.WRITE):
            return self.BAD_CMD
        # Python integers do not wrap, so sector × size and addr + length cannot overflow
        # into a small, valid-looking range the way 32-bit arithmetic would.
        if self.sector + self.count > self.sectors:
            return self.BAD_SECTOR
        if self.count > self.MAX_SECTORS:
            return self.TOO_LARGE
        start, n = self.sector * SECTOR, self.count * SECTOR
        if self.addr + n > self.platform.mem_size:
            return self.BAD_DMA                  # checked first: a failed command moves nothing
        fd = self.file.fileno()
        try:
            for off in range(0, n, self.CHUNK):
                k = min(self.CHUNK, n - off)
                if cmd == DiskCmd.READ:
                    data = os.pread(fd, k, start + off)
                    self.platform.dma_write(self.addr + off, data.ljust(k, b"\0"))
                else:
                    os.pwrite(fd, self.platform.dma_read(self.addr + off, k), start + off)
                    self.dirty = True
        except DMAError:
            return self.BAD_DMA
        except OSError as e:
            self.error = f"disk {self.path}: {e.strerror or e}"
            return self.IO_ERROR
        if cmd == DiskCmd.READ:
            self.reads += self.count
        else:
            self.writes += self.count
        return self.OK

    def flush(self) -> bool:
        """fsync what was written; False (and `error` set) when the host cannot."""
        if self.dirty and self.file is not None:
            try:
                os.fsync(self.file.fileno())
            except OSError as e:
                self.error = f"disk {self.path}: {e.strerror or e}"
                return False
            self.dirty = False
        return True

    def close(self) -> None:
        if self.file is not None:
            self.flush()
            self.file.close()            # releases the lock
            self.file = None

    def contents(self, limit: int = 1 << 30) -> bytes:
        """The whole image as it is now (for a snapshot), after a flush."""
        if self.file is None:
            return b""
        self.flush()
        if self.size > limit:
            raise DiskError(f"disk {self.path}: larger than {limit} bytes, too large to "
                            "snapshot")
        return os.pread(self.file.fileno(), self.size, 0)

    def save(self) -> dict:
        return {"sector": self.sector, "addr": self.addr, "count": self.count,
                "status": self.status, "irq": self.irq_enabled}

    def restore(self, state: dict) -> None:
        self.sector, self.addr, self.count = state["sector"], state["addr"], state["count"]
        self.status, self.irq_enabled = state["status"], state["irq"]


_open_rw = open


def open_image(path: str):
    """Open a disk image for reading and writing, under an exclusive advisory lock."""
    try:
        f = _open_rw(path, "r+b", buffering=0)
    except FileNotFoundError:
        raise DiskError(f"disk {path}: no such file") from None
    except IsADirectoryError:
        raise DiskError(f"disk {path}: is a directory, not an image file") from None
    except PermissionError:
        raise DiskError(f"disk {path}: cannot be opened for writing (permission denied); "
                        "make it writable or give a copy") from None
    except OSError as e:
        raise DiskError(f"disk {path}: cannot be opened for writing ({e.strerror or e})") from None
    import stat
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise DiskError(f"disk {path}: not a regular file")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise DiskError(f"disk {path}: in use by another guest or hv process (locked)") from None
    return f


def standard_devices(platform, console_write, console_input=None, disk_path=None) -> Bus:
    """The machine's fixed devices: console, timer, power, the disk and the IPI port (in that
    order: `bus.devices[3]` is the disk)."""
    bus = Bus()
    bus.attach(Console(console_write, console_input))
    bus.attach(Timer(platform))
    bus.attach(Power(platform))
    bus.attach(Disk(platform, disk_path))
    bus.attach(IPI(platform))
    return bus
