"""A guest's snapshot: what vcpu/snapshot.py saves for a bare machine, plus the hypervisor's
view of the guest (each vCPU's virtual control registers, its shadow views, the I/O
tokens), with every host-physical frame turned into a guest-physical address so that the
state means the same in another host's pool.

Rebuilt rather than saved: the physical view (it maps all guest memory), the real control
registers (user mode, paging on this host's shadow, IE following the virtual IE), and the
frames the guest had in the old pool. The kernel and user shadow views *are* saved: they
act as a TLB that only a flush empties, and a guest in the middle of a TLB shootdown reads
through a translation it has not flushed yet; an empty shadow after a restore would show it
the new frame where the uninterrupted run showed the old one.
"""
from __future__ import annotations

from vcpu.devices import ConsoleInput
from vcpu.isa import DEFAULT_QUANTUM, PAGE_SIZE
from vcpu.snapshot import (SnapshotError, build, cpu_states, device_state, encode_pages,
                           image_from_symbols, prepare_disk, set_cpu_states, symbols_of)

from .host import Host, frames_needed
from .trap import tick


def guest_page(vm, i: int) -> bytes:
    h = vm.frames[i]
    return bytes(vm.pool.mem[h:h + PAGE_SIZE])


def guest_state(vm, params: dict | None = None, with_disk: bool = True
                ) -> tuple[dict, bytes | None]:
    """The guest's state as plain data (no memory), and its disk's contents."""
    core = vm.core
    if vm.vtimer_period:
        # The timer catches up lazily while an interrupt is pending and masked; the run
        # loop ticks right after a stop point anyway, so ticking here changes nothing and
        # makes the saved state one value per instruction count.
        tick(vm)
    devices, disk = device_state(vm.bus, with_disk)
    cpus, sched = cpu_states(core)
    back = {h: i << 12 for i, h in enumerate(vm.frames)}
    for cpu in cpus:
        # The real TLBs hold host-physical frames: saved as guest-physical addresses.
        cpu["tlb"] = [[e[0], back[e[1]], e[2]] if e and e[1] in back else None
                      for e in cpu["tlb"]]
    # The virtual timer, pending interrupts and IPI sender of each vCPU live in its real
    # CPU (vm.py), saved with it; `hv` holds what the hypervisor alone knows.
    state = {"kind": "guest", "name": vm.name, "core": core.name,
             "icount": getattr(core, "slots", core.icount),     # the guest's clock
             "mem_size": vm.mem_size, "cpus": cpus, "sched": sched, "devices": devices,
             "hv": {"vcr": list(vm.vcpus[0].vcr),
                    "vcrs": [list(v.vcr) for v in vm.vcpus],
                    "vtimer_period": vm.vtimer_period, "vtimer_next": vm.vtimer_next,
                    "vpending": vm.vpending, "io_tokens": vm.io_tokens,
                    "shadow": [shadow_entries(v.shadow, back) for v in vm.vcpus]},
             "symbols": symbols_of(vm.image),
             "params": dict({"weight": vm.weight}, **(params or {})),
             "output_bytes": len(vm.output)}
    return state, disk


def shadow_entries(sh, back: dict) -> list:
    """One vCPU's kernel and user shadow views as guest data: [view (0 kernel, 1 user),
    virtual page, guest-physical address, rights]. Saved because they act as a TLB that only
    a flush empties: a guest that reads through a translation it has not flushed yet (a TLB
    shootdown in progress) sees the same stale frame after a restore."""
    mv = memoryview(sh.mem)
    out = []
    for view, d in ((0, sh.kernel_dir), (1, sh.user_dir)):
        if d is None:
            continue                 # nested paging (--virt hw): no shadow views
        dirw = mv[d:d + PAGE_SIZE].cast("I")
        for di in range(1024):
            de = dirw[di]
            if not de & 1:
                continue
            t = de & 0xFFFF_F000
            tw = mv[t:t + PAGE_SIZE].cast("I")
            for ti in range(1024):
                te = tw[ti]
                if te & 1 and (te & 0xFFFF_F000) in back:
                    out.append([view, (di << 10) | ti, back[te & 0xFFFF_F000], te & 6])
    return out


def install_shadow(vm, sh, entries, where: str) -> None:
    """Put saved entries back into a freshly flushed shadow (the tables it had)."""
    mem = sh.mem
    npages = vm.mem_size // PAGE_SIZE
    for e in entries:
        if not (isinstance(e, list) and len(e) == 4 and all(isinstance(x, int) for x in e)
                and e[0] in (0, 1) and 0 <= e[1] < 1 << 20 and 0 <= e[2] < npages << 12
                and not e[2] & 0xFFF and e[3] in (0, 2, 4, 6)):
            raise SnapshotError(f"{where}: malformed state (shadow entry)")
        view, vpage, gpa, rights = e
        d = sh.kernel_dir if view == 0 else sh.user_dir
        de_addr = d + (vpage >> 10) * 4
        de = int.from_bytes(mem[de_addr:de_addr + 4], "little")
        if not de & 1:
            if not sh._free_tables:
                raise SnapshotError(f"{where}: malformed state (more shadow tables than a "
                                    "guest has)")
            table = sh._free_tables.pop()
            mem[table:table + PAGE_SIZE] = bytes(PAGE_SIZE)
            mem[de_addr:de_addr + 4] = (table | 7).to_bytes(4, "little")
        else:
            table = de & 0xFFFF_F000
        ta = table + (vpage & 0x3FF) * 4
        mem[ta:ta + 4] = (vm.frames[gpa >> 12] | 1 | rights).to_bytes(4, "little")


def capture_guest(vm, params: dict | None = None) -> bytes:
    """A snapshot of one guest at its current instruction boundary."""
    state, disk = guest_state(vm, params)
    pages = encode_pages(vm.mem_size // PAGE_SIZE, lambda i: guest_page(vm, i))
    return build(state, pages, disk)


def _check_hv(st: dict, where: str) -> dict:
    hv = st.get("hv")
    ok = (isinstance(hv, dict) and isinstance(hv.get("vcr"), list)
          and len(hv["vcr"]) == len(st["cpus"][0]["cr"])
          and all(isinstance(v, int) and 0 <= v <= 0xFFFF_FFFF for v in hv["vcr"])
          and all(isinstance(hv.get(k), int) and hv[k] >= 0
                  for k in ("vtimer_period", "vtimer_next", "vpending")))
    vcrs = hv.get("vcrs", [hv["vcr"]]) if ok else None
    ok = ok and (isinstance(vcrs, list) and len(vcrs) == len(st["cpus"]) and all(
        isinstance(v, list) and len(v) == len(hv["vcr"])
        and all(isinstance(x, int) and 0 <= x <= 0xFFFF_FFFF for x in v) for v in vcrs))
    if not ok:
        raise SnapshotError(f"{where}: malformed state (hypervisor)")
    return hv


def new_host_for(state: dict, trace=None) -> Host:
    return Host(frames_needed(state["mem_size"], len(state["cpus"])) * PAGE_SIZE, trace=trace)


def new_guest(host: Host, state: dict, *, core: str | None, console_write=None,
              disk: str | None = None, where: str = "snapshot"):
    """A guest with the snapshot's name, memory size and symbols, its memory still zero."""
    if state["kind"] != "guest":
        raise SnapshotError(f"{where}: a bare-machine snapshot (restore it with hv restore "
                            "on the bare machine)")
    name = state.get("name") if isinstance(state.get("name"), str) else "guest"
    weight = state.get("params", {}).get("weight", 1)
    sched = state.get("sched") if isinstance(state.get("sched"), dict) else {}
    quantum = sched.get("quantum", DEFAULT_QUANTUM)
    return host.add(name, image_from_symbols(state.get("symbols", [])),
                    mem_size=state["mem_size"], core=core or state.get("core", "c"),
                    console_write=console_write, console_input=ConsoleInput(b""), disk=disk,
                    weight=weight if isinstance(weight, int) and weight > 0 else 1,
                    cpus=len(state["cpus"]),
                    quantum=quantum if isinstance(quantum, int) and quantum > 0 else 1)


def apply_state(vm, state: dict, where: str = "snapshot") -> None:
    """Put a guest (its memory already in place) into the saved CPU, hypervisor and device
    state."""
    hv = _check_hv(state, where)
    core = vm.core
    fresh = [list(c.cr) for c in core.cpus]
    # The trap mask belongs to this host and its way to virtualize (a snapshot taken under
    # --virt hw restores under trap-and-emulate: the guest's own state is in "hv").
    traps = [c.host_traps for c in core.cpus]
    saved_tlbs = [c["tlb"] for c in state["cpus"]]
    cpus = [dict(c, tlb=[None] * len(c["tlb"])) for c in state["cpus"]]
    try:
        set_cpu_states(core, cpus, state.get("sched") or None)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as e:
        raise SnapshotError(f"{where}: malformed CPU state ({e})") from None
    # The real control registers belong to this host (user mode, paging on the shadow);
    # the shadow's activation below sets each real IE from its virtual one.
    for cpu, real_cr in zip(core.cpus, fresh):
        for i, v in enumerate(real_cr):
            cpu.cr[i] = v
        cpu.tlb_flush()
    for cpu, t in zip(core.cpus, traps):
        cpu.host_traps = t
    for v, vcr in zip(vm.vcpus, hv.get("vcrs", [hv["vcr"]])):
        v.vcr = list(vcr)
    if isinstance(hv.get("io_tokens"), int):
        vm.io_tokens = hv["io_tokens"]
    shadows = hv.get("shadow", [[] for _ in vm.vcpus])
    if not isinstance(shadows, list) or len(shadows) != len(vm.vcpus):
        raise SnapshotError(f"{where}: malformed state (shadow)")
    for v, entries in zip(vm.vcpus, shadows):
        v.shadow.flush()                # the view for the restored guest's mode ...
        if not isinstance(entries, list):
            raise SnapshotError(f"{where}: malformed state (shadow)")
        install_shadow(vm, v.shadow, entries, where)     # ... with what it held
    # The real TLBs back, their guest-physical frames mapped to this host's frames.
    now, sched = cpu_states(core)
    npages = vm.mem_size // PAGE_SIZE
    for cpu, tlb in zip(now, saved_tlbs):
        cpu["tlb"] = [[e[0], vm.frames[e[1] >> 12], e[2]]
                      if e and not e[1] & 0xFFF and e[1] >> 12 < npages else None
                      for e in tlb]
    set_cpu_states(core, now, sched)
    try:
        vm.bus.restore(state["devices"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError):
        raise SnapshotError(f"{where}: malformed device state") from None


def add_guest(host: Host, state: dict, put_memory, *, core: str | None, console_write=None,
              disk: str | None = None, where: str = "snapshot"):
    """Add a guest to `host` in `state`; `put_memory(vm)` fills its memory."""
    if state["kind"] == "guest":
        _check_hv(state, where)
    vm = new_guest(host, state, core=core, console_write=console_write, disk=disk,
                   where=where)
    put_memory(vm)
    apply_state(vm, state, where)
    return vm


def put_guest_page(vm, i: int, data) -> None:
    h = vm.frames[i]
    vm.pool.mem[h:h + PAGE_SIZE] = data


def detach_disk(vm) -> str | None:
    """Flush and close the guest's disk, releasing its lock (before a switch-over)."""
    from vcpu.snapshot import disk_of
    d = disk_of(vm.bus)
    if d is None or d.path is None or d.file is None:
        return None
    d.close()
    return d.path


def attach_disk(vm, path: str) -> None:
    """(Re)open the guest's disk at `path` under its lock, keeping the device's registers."""
    from vcpu.devices import open_image
    from vcpu.snapshot import disk_of
    import os
    d = disk_of(vm.bus)
    d.path = path
    d.file = open_image(path)
    d.size = os.fstat(d.file.fileno()).st_size
    if d.status == d.NO_DISK:
        d.status = d.OK


def restore_guest(snap, host: Host, *, core: str | None = None, console_write=None,
                  warn=None):
    """Add the snapshot's guest to `host`, in the snapshot's state."""
    if snap.kind != "guest":
        raise SnapshotError(f"{snap.path}: a bare-machine snapshot, not a guest")
    disk = prepare_disk(snap, warn)

    def put_memory(vm):
        snap.load_memory(lambda i, data: put_guest_page(vm, i, data))
    return add_guest(host, snap.state, put_memory, core=core, console_write=console_write,
                     disk=disk, where=snap.path)


def switch_guest_core(vm, kind: str | None = None) -> str:
    """Move a guest to the other core between two of its instructions (same host memory)."""
    from vcpu.cores import make_core
    old = vm.core
    kind = kind or ("py" if old.name == "c" else "c")
    new = make_core(kind, memory=vm.pool.mem, cpus=old.ncpus, quantum=old.quantum)
    new.set_state(old.get_state())
    vm.core = new
    return new.name
