"""The virtual network: a network device per guest, a switch in the host, and a link that
joins the switches of two `hv` processes over TCP.

Frames are Ethernet-shaped: destination address (6 bytes), source address (6), type (2),
payload; 14 to 1514 bytes. A guest's address is 02:xx:xx:xx:xx:xx, taken from a hash of its
name (so it is the same on every run, and two processes can tell if their guests clash);
ff:ff:ff:ff:ff:ff is broadcast. The device writes the sender's address itself: a guest
cannot send in another's name.

Device (ports in vcpu/isa.py, NetPort):
    send     out 0x50 address, out 0x51 length, out 0x52 1  -> status in 0x52
    ring     out 0x50 address, out 0x51 slots (1..64), out 0x52 2 (frames that came before
             it, up to 64, wait in the device and land now)
             slot i is at address + 2048·i: u32 length (0 = empty, the device's to fill),
             u32 arrival time (the guest's instruction count when the frame landed), frame.
             The device fills the next slot in turn if it is empty (otherwise the frame is
             dropped and counted); the guest empties a slot by writing 0 to its length.
    out 0x53 1: device interrupt (cause 17) when a frame lands.  in 0x58: the instruction
    count (low 32 bits), a time stamp for round trips.

Time, within one host. A frame sent when its sender's clock (instruction count) reads t
arrives at its receiver when the *receiver's* clock reads t + LATENCY, exactly. For that the
host keeps the guests of one switch in step (conservative parallel simulation): a guest may
run ahead of the others by at most LATENCY, so every frame that could arrive before its
clock is already queued when it gets there. A guest waiting in `wfi` idles: its clock jumps
to its next event (a frame's arrival or its timer) and counts as retired instructions, as
`wfi` does on the bare machine. So what a pair of guests prints does not depend on the
scheduler's slices or on host speed: the same run, every time.

Across two processes it cannot be so: a frame from the wire lands at the receiver's
clock as it is when the frame arrives (the next instruction boundary), and when every guest
of a host waits for the wire, their clocks stop (host time is not guest time).
"""
from __future__ import annotations

import hashlib
import heapq
import queue
import socket
import struct
import threading
import time
from collections import Counter

from vcpu.devices import Device, DMAError
from vcpu.isa import Irq, NetPort

M32 = 0xFFFF_FFFF
FRAME_MIN, FRAME_MAX = 14, 1514
SLOT, SLOT_HEADER, MAX_SLOTS = 2048, 8, 64
LATENCY = 1000                 # guest instructions a frame takes on the local switch
BROADCAST = b"\xff" * 6
WIRE_MAGIC = b"HVNET1"
WIRE_QUEUE = 4096              # frames from the wire waiting for delivery, at most
NEVER = float("inf")


class NetStatus:
    OK, BAD_LEN, BAD_DMA, BAD_CMD = range(4)


class NetError(Exception):
    """A network that cannot be set up (one line for the user)."""


def mac_for(name: str) -> bytes:
    return b"\x02" + hashlib.sha256(name.encode()).digest()[:5]


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


class NetDevice(Device):
    name = "net"
    ports = range(NetPort.ADDR, NetPort.CLOCK + 1)

    def __init__(self, vm, switch: "Switch", index: int, name: str | None = None):
        self.vm = vm
        self.switch = switch
        self.index = index
        self.mac = mac_for(name or vm.name)
        self.addr = self.length = 0
        self.status = NetStatus.OK
        self.irq_enabled = False
        self.ring = self.slots = self.next = 0
        self.rx = self.sent = self.drops = 0
        self.seq = 0
        self.inbox: list = []        # heap of (arrival, origin, seq, frame)
        self.early: list[bytes] = [] # frames that came before the receive ring
        self.idle = False            # waiting in wfi

    # --- ports ---------------------------------------------------------------------------
    def read(self, port: int) -> int:
        if port == NetPort.CMD:
            return self.status
        if port == NetPort.MAC_LO:
            return int.from_bytes(self.mac[:4], "little")
        if port == NetPort.MAC_HI:
            return int.from_bytes(self.mac[4:], "little")
        if port == NetPort.RX:
            return self.rx & M32
        if port == NetPort.DROPS:
            return self.drops & M32
        if port == NetPort.CLOCK:
            return self.vm.core.icount & M32
        return 0

    def write(self, port: int, value: int) -> None:
        if port == NetPort.ADDR:
            self.addr = value
        elif port == NetPort.LEN:
            self.length = value
        elif port == NetPort.IRQ:
            self.irq_enabled = bool(value & 1)
        elif port == NetPort.CMD:
            self.status = self._command(value)

    def _command(self, cmd: int) -> int:
        vm = self.vm
        if cmd == 1:
            n = self.length
            if not FRAME_MIN <= n <= FRAME_MAX:
                return NetStatus.BAD_LEN
            try:
                # The DMA draws on the guest's I/O tokens: a guest that empties its bucket
                # loses the rest of its slice, as with the console and the disk.
                data = vm.dma_read(self.addr, n)
            except DMAError:
                return NetStatus.BAD_DMA
            self.sent += 1
            self.switch.send(self, data[:6] + self.mac + data[12:])
            return NetStatus.OK
        if cmd == 2:
            if not 1 <= self.length <= MAX_SLOTS:
                return NetStatus.BAD_LEN
            if self.addr + self.length * SLOT > vm.mem_size:
                return NetStatus.BAD_DMA
            self.ring, self.slots, self.next = self.addr, self.length, 0
            early, self.early = self.early, []
            for frame in early:
                self._land(frame, vm.core.icount)
            return NetStatus.OK
        return NetStatus.BAD_CMD

    # --- receiving -----------------------------------------------------------------------
    def queue(self, arrival: int, origin: int, seq: int, frame: bytes) -> None:
        heapq.heappush(self.inbox, (arrival, origin, seq, frame))

    def next_arrival(self) -> float:
        return self.inbox[0][0] if self.inbox else NEVER

    def deliver_due(self) -> None:
        now = self.vm.core.icount
        while self.inbox and self.inbox[0][0] <= now:
            self._land(heapq.heappop(self.inbox)[3], now)

    def _land(self, frame: bytes, now: int) -> None:
        vm, stats = self.vm, self.switch.stats
        if not self.slots:
            # Before the guest has set up its ring, the device holds a few frames (a FIFO,
            # as a real card has) and lands them when the ring appears.
            if len(self.early) < MAX_SLOTS:
                self.early.append(frame)
            else:
                self.drops += 1
                stats["dropped: no receive ring"] += 1
            return
        slot = self.ring + self.next * SLOT
        try:
            if int.from_bytes(vm.dma_read(slot, 4), "little") != 0:
                self.drops += 1
                stats["dropped: receive ring full"] += 1
                return
            vm.dma_write(slot, struct.pack("<II", len(frame), now & M32) + frame)
        except DMAError:
            self.drops += 1
            stats["dropped: ring outside memory"] += 1
            return
        self.next = (self.next + 1) % self.slots
        self.rx += 1
        stats["delivered"] += 1
        if self.irq_enabled:
            vm.raise_irq(Irq.DEVICE)

    # --- idling in wfi -------------------------------------------------------------------
    def next_event(self) -> float:
        vm = self.vm
        t = vm.vtimer_next if vm.vtimer_period else NEVER
        return min(t, self.next_arrival())

    def idle_until(self, end: int) -> bool:
        """Let an idle guest's clock jump to its next event (at most `end`). True when it
        wakes (an interrupt is pending), False when it still waits."""
        from hypervisor.trap import tick
        vm = self.vm
        event = self.next_event()
        if event != NEVER:             # with nothing to wait for, the clock stays put
            target = min(event, end)
            if vm.core.icount < target:
                vm.core.icount = int(target)
        self.deliver_due()
        if vm.vtimer_period:
            tick(vm)
        if vm.vpending:
            self.idle = False
            return True
        return False


class Switch:
    """Connects the network devices of one host, and through a Link the switch of another."""

    def __init__(self, latency: int = LATENCY):
        self.latency = latency
        self.devices: list[NetDevice] = []
        self.by_mac: dict[bytes, NetDevice] = {}
        self.link: Link | None = None
        self.stats: Counter = Counter()
        self.wire_seq = 0
        self.wire_wait = 30.0

    def attach(self, vm, name: str | None = None) -> NetDevice:
        """`name` (default: the guest's) gives the device its address."""
        dev = NetDevice(vm, self, len(self.devices), name)
        if dev.mac in self.by_mac:
            raise NetError(f"guests {self.by_mac[dev.mac].vm.name} and {vm.name} have the same "
                           f"network address")
        vm.bus.attach(dev)
        vm.nic = dev
        self.devices.append(dev)
        self.by_mac[dev.mac] = dev
        return dev

    def send(self, dev: NetDevice, frame: bytes) -> None:
        self.stats["sent"] += 1
        arrival = dev.vm.core.icount + self.latency
        dev.seq += 1
        dst = frame[:6]
        if dst[0] & 1:                                   # broadcast (and multicast)
            for d in self.devices:
                if d is not dev and d.vm.running:
                    d.queue(arrival, dev.index, dev.seq, frame)
            if self.link:
                self.link.send(frame, self.stats)
            return
        target = self.by_mac.get(dst)
        if target is not None:
            if target.vm.running:
                target.queue(arrival, dev.index, dev.seq, frame)
            else:
                self.stats["dropped: receiver stopped"] += 1
        elif self.link and self.link.knows(dst):
            self.link.send(frame, self.stats)
        else:
            dev.drops += 1
            self.stats["dropped: no such address"] += 1

    # --- keeping the guests of one host in step ------------------------------------------
    def _effective(self, d: NetDevice, busy_min: float) -> float:
        """The earliest clock at which guest `d` could send a frame."""
        if not d.idle:
            return d.vm.core.icount
        return min(d.next_event(), busy_min + self.latency)

    def cap(self, vm) -> float:
        """How many instructions `vm` may run now: never more than LATENCY past the earliest
        moment another guest could still send it a frame."""
        others = [d for d in self.devices if d.vm is not vm and d.vm.running]
        if not others:
            return NEVER
        busy = [d.vm.core.icount for d in self.devices if d.vm.running and not d.idle]
        busy_min = min(busy, default=NEVER)
        horizon = min(self._effective(d, busy_min) for d in others)
        return horizon + self.latency - vm.core.icount

    # --- frames from the wire ------------------------------------------------------------
    def from_wire(self) -> None:
        if self.link is None:
            return
        for frame in self.link.take():
            dst, src = frame[:6], frame[6:12]
            if src[0] & 1 or src in self.by_mac or not self.link.owns(src):
                self.stats["wire: dropped, bad source address"] += 1
                continue
            self.wire_seq += 1
            targets = ([d for d in self.devices if d.vm.running] if dst[0] & 1
                       else [self.by_mac[dst]] if dst in self.by_mac else [])
            if not targets:
                self.stats["wire: dropped, no such address"] += 1
            for d in targets:
                d.queue(d.vm.core.icount, 1 << 30, self.wire_seq, frame)

    def waiting(self, runnable) -> bool:
        """Called by the host before each round. When every runnable guest waits in `wfi`
        with nothing local that could wake it, wait for the wire (or stop them: they would
        never wake). True when the round should be skipped."""
        self.from_wire()
        for vm in runnable:
            nic = getattr(vm, "nic", None)
            if nic is None or nic.switch is not self or not nic.idle or nic.next_event() != NEVER:
                return False
            if vm.vpending:
                return False
        if self.link is not None and not self.link.closed:
            if self.link.wait(self.wire_wait):
                self.from_wire()
                return True
            why = (f"waited {self.wire_wait:g} s for the network peer" if not self.link.closed
                   else "the network peer went away")
        else:
            why = "no frame in flight"
        for vm in runnable:
            vm.stop("wfi", f"wfi with no timer and no interrupt pending would never wake ({why})")
        return True

    def close(self) -> None:
        if self.link:
            self.link.close()

    def summary(self) -> str:
        parts = [f"{n} {k}" for k, n in sorted(self.stats.items())]
        return "net: " + (", ".join(parts) if parts else "no frames")


class Link:
    """Two switches joined over TCP. The wire carries a hello (magic, the guests' addresses)
    and then frames, each as a big-endian u16 length and the frame. Everything from the wire
    is checked: sizes, addresses; a bad frame is dropped and counted."""

    def __init__(self, sock: socket.socket, local_macs: list[bytes], stats: Counter):
        self.sock = sock
        self.stats = stats
        self.closed = False
        self.lock = threading.Lock()
        self.q: queue.Queue = queue.Queue()
        self.held: list[bytes] = []
        sock.settimeout(10)
        hello = WIRE_MAGIC + bytes([len(local_macs)]) + b"".join(local_macs)
        sock.sendall(hello)
        magic = self._read_exact(len(WIRE_MAGIC) + 1)
        if magic is None or magic[:-1] != WIRE_MAGIC:
            raise NetError("the peer is not an hv network (bad hello)")
        n = magic[-1]
        macs = self._read_exact(6 * n) if n else b""
        if macs is None:
            raise NetError("the peer closed the link during the hello")
        self.peer_macs = {macs[i:i + 6] for i in range(0, len(macs), 6)}
        clash = self.peer_macs & set(local_macs)
        if clash:
            raise NetError(f"guest address {mac_text(next(iter(clash)))} is on both hosts "
                           f"(rename a guest)")
        sock.settimeout(None)
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _read_exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _read_loop(self) -> None:
        while True:
            head = self._read_exact(2)
            if head is None:
                break
            (n,) = struct.unpack(">H", head)
            body = self._read_exact(n) if n else b""
            if body is None:
                break
            if not FRAME_MIN <= n <= FRAME_MAX:
                self.stats["wire: dropped, bad length"] += 1
            elif self.q.qsize() >= WIRE_QUEUE:
                self.stats["wire: dropped, queue full"] += 1
            else:
                self.stats["wire: received"] += 1
                self.q.put(body)
        self.closed = True
        self.q.put(None)             # wakes a waiting host

    def knows(self, mac: bytes) -> bool:
        return mac in self.peer_macs

    def owns(self, mac: bytes) -> bool:
        return mac in self.peer_macs

    def send(self, frame: bytes, stats: Counter) -> None:
        if self.closed:
            stats["dropped: link down"] += 1
            return
        try:
            with self.lock:
                self.sock.sendall(struct.pack(">H", len(frame)) + frame)
            stats["wire: sent"] += 1
        except OSError:
            self.closed = True
            stats["dropped: link down"] += 1

    def take(self) -> list[bytes]:
        out, self.held = self.held, []
        while True:
            try:
                f = self.q.get_nowait()
            except queue.Empty:
                break
            if f is not None:
                out.append(f)
        return out

    def wait(self, timeout: float) -> bool:
        """Block until a frame comes (True) or the link closes or time runs out (False)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            try:
                f = self.q.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return False
                continue
            if f is not None:
                self.held.append(f)
                return True
        return bool(self.held) or not self.q.empty()

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def join(host: str, port: int, local_macs: list[bytes], stats: Counter,
         wait: float = 30.0) -> Link:
    """Join the peer at host:port: connect if it is listening, otherwise listen and wait for
    it (so both sides can run the same command, in either order)."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NetError(f"no network peer joined at {host}:{port} within {wait:g} s")
        try:
            s = socket.create_connection((host, port), timeout=min(1.0, left))
            return Link(s, local_macs, stats)
        except (ConnectionRefusedError, socket.timeout):
            pass
        except OSError as e:
            if not isinstance(e, ConnectionError):
                raise NetError(f"cannot reach {host}:{port}: {e.strerror or e}") from None
        ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            ls.bind((host, port))
        except OSError:
            ls.close()                       # the peer listens there: connect to it
            time.sleep(0.05)
            continue
        try:
            ls.listen(1)
            ls.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                s, _ = ls.accept()
            except socket.timeout:
                raise NetError(f"no network peer joined at {host}:{port} within {wait:g} s") from None
        finally:
            ls.close()
        return Link(s, local_macs, stats)
