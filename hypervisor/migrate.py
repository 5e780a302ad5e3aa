"""Live migration of one guest between two hypervisor processes over TCP (brief §8).

Pre-copy: the source sends the guest's memory while the guest keeps running, finds the pages
the guest wrote meanwhile, and sends those again, round after round, until what is left
would take no longer than the downtime limit. Then it stops the guest, sends the last pages
and the CPU, hypervisor and device state, and hands over when the destination confirms.

Dirty pages are found by *comparison*: the source keeps a copy of every page as it was sent
and compares the guest's page with it at the start of each round. That costs one 4 KiB
comparison per page per round and nothing at all while no migration runs: no write
barrier in either core's hot loop, no write-protection faults through the shadow tables,
and it sees every way memory changes (stores, DMA, the hypervisor's own emulation) without
each path having to remember to mark a bitmap. docs/migration.md has the figures.

The stream is framed: `tag (4 bytes) · u32 length · payload · u32 XXH32(tag, length,
payload)`; every frame is checked, every length bounded before it is read. The sequence:

    source                                   destination
    HELO {format, isa, guest, memory} ->
                                          <- OKAY | FAIL {reason}
    PAGE (pages), ROND {round stats} ...  ->  (guest keeps running at the source)
    [guest stopped] PAGE (the rest), STAT ->
                                          <- ACKS (guest built, not started) | FAIL
    [disk flushed and released]      GOGO ->
                                          <- RUNS (disk taken; the destination runs it)
    [source: guest gone]

Until RUNS arrives the source owns the guest: any failure, timeout or bad frame ends the
migration with one line on stderr, the disk is taken back and the guest runs on.
"""
from __future__ import annotations

import json
import socket
import struct
import time

import xxhash
import zstandard

from vcpu.isa import PAGE_SIZE
from vcpu.snapshot import (MAX_MEMORY, VERSION, SnapshotError, check_state, decode_pages,
                           encode_pages, hv_version, image_from_symbols, isa_fingerprint)

FRAME = struct.Struct("<4sI")
CHECK = struct.Struct("<I")
MAX_FRAME = 64 << 20
CHUNK_PAGES = 64               # pages per PAGE frame: the guest runs between frames
RUN_BETWEEN = 10_000           # guest instructions between two frames (before throttling)
MAX_ROUNDS = 30


class MigrationError(Exception):
    """Why a migration failed, in one line."""


def parse_target(text: str) -> tuple[str, int]:
    """'tcp:HOST:PORT' -> (host, port)."""
    kind, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    if kind != "tcp" or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r}: use tcp:HOST:PORT, e.g. tcp:127.0.0.1:4444")
    return host.strip("[]"), int(port)


def pick_guest(host, name: str | None, what: str):
    """The guest called `name`, or the only one when `name` is None (ValueError otherwise)."""
    if name is None:
        if len(host.vms) != 1:
            raise ValueError(f"{what}: {len(host.vms)} guests; name one as NAME@N "
                             f"({', '.join(vm.name for vm in host.vms)})")
        return host.vms[0]
    for vm in host.vms:
        if vm.name == name:
            return vm
    raise ValueError(f"{what}: no guest named {name!r} "
                     f"(guests: {', '.join(vm.name for vm in host.vms)})")


# --- framing --------------------------------------------------------------------------------

class Channel:
    def __init__(self, sock: socket.socket, timeout: float):
        self.sock = sock
        sock.settimeout(timeout)
        self.sent = 0
        self.cctx = zstandard.ZstdCompressor(level=1)
        self.dctx = zstandard.ZstdDecompressor()

    def send(self, tag: bytes, payload: bytes = b"") -> int:
        head = FRAME.pack(tag, len(payload))
        h = xxhash.xxh32(head)
        h.update(payload)
        data = head + payload + CHECK.pack(h.intdigest())
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise MigrationError("the peer stopped reading (timeout)") from None
        except OSError as e:
            raise MigrationError(f"connection lost while sending {tag.decode()} "
                                 f"({e.strerror or e})") from None
        self.sent += len(data)
        return len(data)

    def send_json(self, tag: bytes, obj) -> int:
        return self.send(tag, json.dumps(obj, separators=(",", ":")).encode())

    def _exact(self, n: int, what: str) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except socket.timeout:
                raise MigrationError(f"the peer went silent (timeout waiting for {what})") from None
            except OSError as e:
                raise MigrationError(f"connection lost waiting for {what} "
                                     f"({e.strerror or e})") from None
            if not chunk:
                raise MigrationError(f"the peer closed the connection (waiting for {what})")
            buf += chunk
        return bytes(buf)

    def recv(self, what: str = "a frame") -> tuple[bytes, bytes]:
        head = self._exact(FRAME.size, what)
        tag, n = FRAME.unpack(head)
        if n > MAX_FRAME:
            raise MigrationError(f"frame {tag!r} of {n} bytes (limit {MAX_FRAME}): corrupt stream")
        payload = self._exact(n, what)
        (cs,) = CHECK.unpack(self._exact(CHECK.size, what))
        h = xxhash.xxh32(head)
        h.update(payload)
        if h.intdigest() != cs:
            raise MigrationError(f"corrupt frame {tag!r} (checksum mismatch)")
        return tag, payload

    def recv_json(self, payload: bytes, tag: bytes):
        try:
            obj = json.loads(payload.decode())
        except (UnicodeDecodeError, ValueError):
            raise MigrationError(f"malformed {tag.decode()} frame") from None
        if not isinstance(obj, dict):
            raise MigrationError(f"malformed {tag.decode()} frame")
        return obj

    def expect(self, want: bytes, what: str):
        tag, payload = self.recv(what)
        if tag == b"FAIL":
            reason = self.recv_json(payload, tag).get("reason", "?")
            raise MigrationError(f"the destination refused: {reason}")
        if tag != want:
            raise MigrationError(f"expected {want.decode()}, got {tag!r}")
        return payload

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# --- the source -------------------------------------------------------------------------------

class Migration:
    """One outgoing live migration of `vm`, driven from a stop point of the run loop."""

    def __init__(self, host, vm, target: str, *, max_downtime: float = 0.005,
                 max_bandwidth: float | None = None, timeout: float = 5.0):
        self.host, self.vm, self.target = host, vm, target
        self.addr = parse_target(target)
        self.max_downtime = max_downtime
        self.max_bandwidth = max_bandwidth          # bytes per second, None = no limit
        self.timeout = timeout
        self.status = "none"                         # active, completed, failed
        self.error = ""
        self.rounds = 0
        self.pages_sent = 0
        self.bytes_sent = 0
        self.throttle = 0.0                          # share of the guest's time taken away
        self.dirty_rate = 0.0                        # pages per second, last round
        self.downtime_ms = 0.0
        self.downtime_insns = 0
        self.total_ms = 0.0
        self.start_icount = 0
        self.rounds_log: list[dict] = []
        self.guest_insns = 0
        self.guest_time = 0.0
        self.finished = False        # the guest ended during pre-copy
        self.link_time = 0.0         # seconds spent encoding and sending pages
        self.link_pages = 0

    def info(self) -> dict:
        """What `query-migrate` reports."""
        return {"status": self.status, "target": self.target, "error": self.error,
                "rounds": self.rounds, "pages": self.pages_sent, "bytes": self.bytes_sent,
                "dirty-rate-pages-per-s": round(self.dirty_rate, 1),
                "throttle-percent": round(self.throttle * 100),
                "downtime-ms": round(self.downtime_ms, 3),
                "downtime-guest-instructions": self.downtime_insns,
                "total-ms": round(self.total_ms, 3), "start-icount": self.start_icount,
                "max-downtime-ms": self.max_downtime * 1000,
                "max-bandwidth": self.max_bandwidth}

    # The guest runs between frames: the source's own scheduler slice, throttled.
    def _run_guest(self) -> None:
        vm = self.vm
        n = max(1, int(RUN_BETWEEN * (1.0 - self.throttle)))
        i0, t = vm.core.slots, time.perf_counter()
        self.host.run_slice(vm, n, getattr(self.host, "max_steps", None))
        self.guest_time += time.perf_counter() - t
        self.guest_insns += vm.core.slots - i0
        if vm.state != "running":
            # The guest finished during pre-copy: it moves anyway, finished, so that the
            # destination reports its end (the switch-over is at its last instruction).
            self.finished = True

    def _pace(self, t0: float) -> None:
        if self.max_bandwidth:
            ahead = self.ch.sent / self.max_bandwidth - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)

    def _page(self, i: int) -> bytes:
        h = self.vm.frames[i]
        return bytes(self.vm.pool.mem[h:h + PAGE_SIZE])

    def _send_pages(self, idx: list[int], t0: float, *, live: bool) -> None:
        for k in range(0, len(idx), CHUNK_PAGES):
            part = idx[k:k + CHUNK_PAGES]
            t = time.perf_counter()
            pages = {i: self._page(i) for i in part}
            raw = encode_pages(self.npages, pages.__getitem__, part, keep_zero=True)
            self.ch.send(b"PAGE", self.ch.cctx.compress(raw))
            for i, p in pages.items():
                self.sent_copy[i] = p
            self.pages_sent += len(part)
            self.link_time += time.perf_counter() - t
            self.link_pages += len(part)
            self._pace(t0)
            if live and not self.finished:
                self._run_guest()

    def _dirty(self) -> list[int]:
        page, copy = self._page, self.sent_copy
        return [i for i in range(self.npages) if page(i) != copy[i]]

    def run(self) -> bool:
        """Migrate; True when the destination runs the guest now. On False the guest is
        still here and `error` says why."""
        from .snapshot import attach_disk, detach_disk, guest_state
        vm = self.vm
        self.status = "active"
        self.start_icount = vm.core.slots
        t0 = time.perf_counter()
        released = None
        self.ch = None
        try:
            sock = self._connect()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.ch = ch = Channel(sock, self.timeout)
            self.npages = vm.mem_size // PAGE_SIZE
            zero = bytes(PAGE_SIZE)
            self.sent_copy = [zero] * self.npages
            ch.send_json(b"HELO", {"format": VERSION, "isa": isa_fingerprint(),
                                   "writer": f"hv {hv_version()}", "name": vm.name,
                                   "mem_size": vm.mem_size, "core": vm.core.name,
                                   "cpus": getattr(vm.core, "ncpus", 1),
                                   "quantum": getattr(vm.core, "quantum", 1)})
            ch.expect(b"OKAY", "the destination's answer to HELO")
            # Pre-copy rounds, the guest running between frames.
            prev = None
            while True:
                tr = time.perf_counter()
                dirty = self._dirty()
                if (self.finished or self.rounds and self._fits(len(dirty))
                        or self.rounds >= MAX_ROUNDS):
                    t_stop = tr
                    break
                self._send_pages(dirty, t0, live=True)
                dt = time.perf_counter() - tr
                self.rounds += 1
                self.dirty_rate = len(dirty) / dt if dt > 0 else 0.0
                self.rounds_log.append({"round": self.rounds, "pages": len(dirty),
                                        "ms": round(dt * 1000, 3),
                                        "throttle": round(self.throttle, 2)})
                ch.send_json(b"ROND", self.rounds_log[-1])
                # Auto-converge: a round that did not shrink the dirty set throttles the
                # guest (20 % first, then 10 % more each round, as QEMU does).
                if prev is not None and len(dirty) >= prev and len(dirty) > 0:
                    self.throttle = min(0.99, self.throttle + (0.2 if not self.throttle else 0.1))
                prev = len(dirty)
            # Stop and copy: the guest does not run again here.
            self.stop_icount = vm.core.slots
            self._send_pages(dirty, t0, live=False)
            state, _ = guest_state(vm, {"max_steps": getattr(self.host, "max_steps", None),
                                        "slice": getattr(self.host, "slice", 10_000)},
                                   with_disk=False)
            if self.finished:
                state["stopped"] = {"kind": vm.stop_kind, "status": vm.status,
                                    "reason": vm.reason}
            ch.send_json(b"STAT", state)
            ch.expect(b"ACKS", "the destination's confirmation")
            released = detach_disk(vm)       # flushed: the destination may take it now
            ch.send(b"GOGO")
            ch.expect(b"RUNS", "the destination's switch-over")
            t_end = time.perf_counter()
            self.downtime_ms = (t_end - t_stop) * 1000
            # In guest instructions: what the guest runs in that time at its own speed.
            rate = self.guest_insns / self.guest_time if self.guest_time else 0.0
            self.downtime_insns = int(rate * (t_end - t_stop))
            self.total_ms = (t_end - t0) * 1000
            self.bytes_sent = ch.sent
            self.status = "completed"
            ch.close()
            return True
        except MigrationError as e:
            self.error = str(e)
        except SnapshotError as e:
            self.error = str(e)
        self.status = "failed"
        self.total_ms = (time.perf_counter() - t0) * 1000
        if self.ch is not None:
            self.bytes_sent = self.ch.sent
            self.ch.close()
        if released is not None:
            try:
                attach_disk(vm, released)
            except Exception as e:          # the guest keeps running without its disk
                vm.stop("error", f"migration failed and its disk could not be taken back: {e}")
        return False

    def _connect(self) -> socket.socket:
        """Connect, retrying a refused connection until the timeout: a destination started
        at the same moment as the source may not be listening yet."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return socket.create_connection(self.addr, timeout=self.timeout)
            except ConnectionRefusedError as e:
                if time.monotonic() >= deadline:
                    raise MigrationError(f"cannot connect to {self.target} ({e.strerror or e}"
                                         f", for {self.timeout:g} s)") from None
                time.sleep(0.05)
            except OSError as e:
                raise MigrationError(f"cannot connect to {self.target} "
                                     f"({e.strerror or e})") from None

    def _fits(self, ndirty: int) -> bool:
        """Would sending `ndirty` pages take no longer than the downtime limit?"""
        if ndirty == 0:
            return True
        per_page = self.link_time / self.link_pages if self.link_pages else 1e-3
        if self.max_bandwidth:
            per_page = max(per_page, PAGE_SIZE / self.max_bandwidth)
        return ndirty * per_page <= self.max_downtime


# --- the destination --------------------------------------------------------------------------

def listen(target: str, timeout: float | None = None) -> socket.socket:
    host, port = parse_target(target)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    s.settimeout(timeout)
    return s


def receive(conn: socket.socket, host, *, core: str | None, console_write, timeout: float = 30.0,
            note=None):
    """Receive one guest into `host`; returns it, ready to run (and the source has handed
    it over), or raises MigrationError without having started anything."""
    from .snapshot import apply_state, attach_disk, new_guest, put_guest_page
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # small answers at once
    except OSError:
        pass
    ch = Channel(conn, timeout)
    vm = None
    try:
        tag, payload = ch.recv("HELO")
        if tag != b"HELO":
            raise MigrationError(f"expected HELO, got {tag!r}")
        hello = ch.recv_json(payload, tag)
        if hello.get("format") != VERSION:
            raise MigrationError(f"stream format {hello.get('format')!r}; this hv speaks {VERSION}")
        if hello.get("isa") != isa_fingerprint():
            raise MigrationError("the source runs another ISA (fingerprint differs)")
        mem = hello.get("mem_size")
        if not (isinstance(mem, int) and 0 < mem <= MAX_MEMORY and mem % PAGE_SIZE == 0):
            raise MigrationError(f"bad memory size {mem!r}")
        name = hello.get("name") if isinstance(hello.get("name"), str) else "guest"
        ncpus, quantum = hello.get("cpus", 1), hello.get("quantum", 1)
        if not (isinstance(ncpus, int) and 1 <= ncpus <= 16 and isinstance(quantum, int)
                and 1 <= quantum < 1 << 32):
            raise MigrationError(f"bad CPU count {ncpus!r} or quantum {quantum!r}")
        skeleton = {"kind": "guest", "name": name, "mem_size": mem, "cpus": [{}] * ncpus,
                    "sched": {"quantum": quantum}, "core": hello.get("core"), "params": {},
                    "symbols": []}
        vm = new_guest(host, skeleton, core=core or (hello.get("core") if hello.get("core")
                                                       in ("c", "py") else "c"),
                       console_write=console_write, where="incoming")
        npages = mem // PAGE_SIZE
        ch.send(b"OKAY")
        if note:
            note(f"receiving guest {name} ({mem // 1024} KiB)")
        while True:
            tag, payload = ch.recv("pages or state")
            if tag == b"PAGE":
                try:
                    raw = ch.dctx.decompress(payload,
                                             max_output_size=12 + CHUNK_PAGES * (4 + PAGE_SIZE))
                except zstandard.ZstdError:
                    raise MigrationError("a page frame does not decompress") from None
                try:
                    decode_pages(raw, npages, lambda i, d: put_guest_page(vm, i, d), "incoming",
                                 zero_missing=False)
                except SnapshotError as e:
                    raise MigrationError(str(e)) from None
            elif tag == b"ROND":
                pass
            elif tag == b"STAT":
                break
            else:
                raise MigrationError(f"unexpected frame {tag!r}")
        state = ch.recv_json(payload, tag)
        try:
            check_state(state, "incoming")
            if (state["kind"] != "guest" or state["mem_size"] != mem
                    or len(state["cpus"]) != ncpus):
                raise SnapshotError("incoming: the state does not match the announced guest")
            vm.image = image_from_symbols(state.get("symbols", []))
            apply_state(vm, state, "incoming")
        except SnapshotError as e:
            raise MigrationError(str(e)) from None
        disk = state["devices"].get("disk", {})
        disk_path = disk.get("path") if isinstance(disk, dict) else None
        vm.params = state.get("params", {})
        ch.send(b"ACKS")
        ch.expect(b"GOGO", "the go-ahead")
        if isinstance(disk_path, str):
            try:
                attach_disk(vm, disk_path)
            except Exception as e:
                raise MigrationError(f"cannot take the disk: {e}") from None
        ch.send(b"RUNS")
        stopped = state.get("stopped")
        if isinstance(stopped, dict) and isinstance(stopped.get("status"), int):
            vm.stop(str(stopped.get("kind", "poweroff")), str(stopped.get("reason", "")),
                    stopped["status"])
        return vm
    except MigrationError as e:
        if vm is not None:
            host.vms.remove(vm)
            vm.state = "stopped"
        try:
            ch.send_json(b"FAIL", {"reason": str(e)})
        except MigrationError:
            pass
        raise
    finally:
        ch.close()
