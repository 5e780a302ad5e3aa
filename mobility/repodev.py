"""The repository device: a guest names a program and a buffer; the host fetches the image
from the repository (a directory or an HTTP server), checks it against the manifest's hash,
copies it into the buffer by DMA and raises the device interrupt.

Ports (vcpu/isa.py, RepoPort; the table is generated into docs/isa.md):

    out 0x40  guest-physical address of the program's name (NUL-terminated, at most 63 bytes)
    out 0x41  guest-physical address of the buffer
    out 0x42  buffer size in bytes          in 0x42  size of the image last fetched (0 if none)
    out 0x43  command: 1 = fetch            in 0x43  status of the last command (store.Status)
    out 0x44  1 = raise a device interrupt (cause 17) when a command completes

Like the disk, a command completes during the `out` that issues it: the guest sees a fetch
take no instructions at all, so a run stays a function of the image and the repository's
contents. The host's time is bounded instead (a deadline per fetch, store.DEFAULT_TIMEOUT),
and so is the size (the buffer, and never more than store.MAX_PROGRAM). The bytes moved are
charged to the guest's I/O tokens under the hypervisor (its DMA does that).

Under the hypervisor (`defer=True`) the fetch runs in a thread of its own while the *other*
guests go on: the fetching guest's slice ends at the `out` (as an empty I/O bucket ends it)
and the host does not run it again until the fetch is over (`poll`, from the host's run
loop), then copies the image in, sets the status and raises the interrupt. The guest cannot
tell: its next instruction sees the finished command, exactly as on the bare machine.
"""
from __future__ import annotations

import threading
import time

from vcpu.devices import Device, DMAError
from vcpu.isa import Irq, RepoPort

from .store import STATUS_TEXT, Fetched, Source, Status

NAME_MAX = 64
CMD_FETCH = 1


class RepoDevice(Device):
    name = "repo"
    ports = range(RepoPort.NAME, RepoPort.IRQ + 1)

    def __init__(self, platform, source: Source | None, note=None, defer: bool = False):
        self.platform = platform
        self.defer = defer          # fetch in a thread; the host polls (hypervisor only)
        self.pending = None
        self.source = source
        self.note = note            # note(text): one line for the trace (or None)
        self.name_addr = self.addr = self.size = 0
        self.status = Status.OK if source is not None else Status.NO_REPO
        self.got = 0
        self.irq_enabled = False
        self.fetches = 0
        self.failures = 0
        self.host_ms = 0.0          # host time spent fetching, for the figures
        self.bytes = 0

    def read(self, port: int) -> int:
        if port == RepoPort.CMD:
            return self.status
        if port == RepoPort.SIZE:
            return self.got
        return 0

    def write(self, port: int, value: int) -> None:
        if port == RepoPort.NAME:
            self.name_addr = value
        elif port == RepoPort.ADDR:
            self.addr = value
        elif port == RepoPort.SIZE:
            self.size = value
        elif port == RepoPort.IRQ:
            self.irq_enabled = bool(value & 1)
        elif port == RepoPort.CMD:
            if self.defer and value == CMD_FETCH and self._start(value):
                return                      # completes in poll()
            self.status = self._command(value)
            if self.irq_enabled:
                self.platform.raise_irq(Irq.DEVICE)

    def _start(self, cmd: int) -> bool:
        """Begin a fetch in a thread; False when the command can be answered at once."""
        if self.source is None:
            return False
        try:
            name = self._read_name()
        except DMAError:
            return False
        if name is None:
            return False
        box: dict = {}
        size = self.size

        def work():
            box["r"] = self.source.fetch(name, size)
        t = threading.Thread(target=work, daemon=True, name="repo-fetch")
        self.pending = (t, box, name, time.perf_counter())
        self.platform.io_pending = self
        self.platform.throttled = True      # end the guest's slice now
        t.start()
        return True

    def poll(self) -> bool:
        """The host asks: is the fetch over? If so, finish the command and return True."""
        t, box, name, t0 = self.pending
        if t.is_alive():
            return False
        self.pending = None
        self.platform.io_pending = None
        self.host_ms += (time.perf_counter() - t0) * 1000
        self.fetches += 1
        self.got = 0
        self.status = self._complete(name, box.get("r") or Fetched(
            Status.UNREACHABLE, message=f"{name}: the fetch failed in the host"))
        if self.irq_enabled:
            self.platform.raise_irq(Irq.DEVICE)
        return True

    def _read_name(self) -> str | None:
        out = bytearray()
        for i in range(NAME_MAX):
            b = self.platform.dma_read(self.name_addr + i, 1)[0]
            if b == 0:
                try:
                    return out.decode("ascii")
                except UnicodeDecodeError:
                    return None
            out.append(b)
        return None

    def _command(self, cmd: int) -> int:
        self.got = 0
        if cmd != CMD_FETCH:
            return self._fail(Fetched(Status.BAD_CMD, message=f"unknown command {cmd}"))
        if self.source is None:
            return self._fail(Fetched(Status.NO_REPO, message="fetch with no repository attached"))
        try:
            name = self._read_name()
        except DMAError:
            return self._fail(Fetched(Status.BAD_DMA, message=f"name at 0x{self.name_addr:x} "
                                      "outside guest memory"))
        if name is None:
            return self._fail(Fetched(Status.BAD_NAME, message="program name not NUL-terminated "
                                      f"ASCII within {NAME_MAX} bytes"))
        t0 = time.perf_counter()
        r = self.source.fetch(name, self.size)
        self.host_ms += (time.perf_counter() - t0) * 1000
        self.fetches += 1
        return self._complete(name, r)

    def _complete(self, name: str, r: Fetched) -> int:
        if r.status != Status.OK:
            return self._fail(r)
        try:
            self.platform.dma_write(self.addr, r.data)
        except DMAError:
            return self._fail(Fetched(Status.BAD_DMA, message=f"buffer 0x{self.addr:x}+"
                                      f"{len(r.data)} outside guest memory"))
        self.got = len(r.data)
        self.bytes += len(r.data)
        if self.note:
            self.note(f"repo: fetched {name} ({len(r.data)} bytes, sha256 {r.sha256[:12]}) "
                      f"from {self.source}")
        return Status.OK

    def _fail(self, r: Fetched) -> int:
        self.failures += 1
        if self.note:
            self.note(f"repo: {STATUS_TEXT.get(r.status, r.status)} (status {r.status}): {r.message}")
        return r.status

    def save(self) -> dict:
        return {"name": self.name_addr, "addr": self.addr, "size": self.size,
                "status": int(self.status), "got": self.got, "irq": self.irq_enabled}

    def restore(self, state: dict) -> None:
        self.name_addr, self.addr, self.size = state["name"], state["addr"], state["size"]
        self.status, self.got, self.irq_enabled = state["status"], state["got"], state["irq"]


def attach_repo(platform, where: str | None, *, timeout: float | None = None, note=None,
                defer: bool = False) -> RepoDevice:
    """Put a repository device on a machine's (or a guest's) bus. `defer`: under the
    hypervisor, fetch in a thread while the other guests run."""
    src = None
    if where is not None:
        src = Source(where) if timeout is None else Source(where, timeout)
    dev = RepoDevice(platform, src, note, defer)
    platform.bus.attach(dev)
    return dev
