"""A guest's snapshot: what vcpu/snapshot.py saves for a bare machine, plus the hypervisor's
view of the guest (its virtual control registers, virtual timer and pending interrupts, its
I/O tokens).

What is *not* saved, because it is rebuilt: the shadow page tables (the restored guest starts
with empty kernel and user views that fill on demand, as after a `tlbflush`), the real
core's TLB and control registers (they hold host-physical frames of the old host), and the
frames the guest had in the old host's pool.
"""
from __future__ import annotations

from vcpu.devices import ConsoleInput
from vcpu.isa import PAGE_SIZE
from vcpu.snapshot import (SnapshotError, build, cpu_states, device_state, encode_pages,
                           image_from_symbols, prepare_disk, symbols_of)

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
    cpus, _sched = cpu_states(core)
    if len(cpus) != 1:
        raise SnapshotError(f"{vm.name}: a guest with {len(cpus)} CPUs cannot be saved yet")
    cpu = cpus[0]
    cpu["tlb"] = [None] * len(cpu["tlb"])     # host-physical: meaningless elsewhere
    state = {"kind": "guest", "name": vm.name, "core": core.name, "icount": core.icount,
             "mem_size": vm.mem_size, "cpus": [cpu], "devices": devices,
             "hv": {"vcr": list(vm.vcr), "vtimer_period": vm.vtimer_period,
                    "vtimer_next": vm.vtimer_next, "vpending": vm.vpending,
                    "io_tokens": vm.io_tokens},
             "symbols": symbols_of(vm.image),
             "params": dict({"weight": vm.weight}, **(params or {})),
             "output_bytes": len(vm.output)}
    return state, disk


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
    if not ok:
        raise SnapshotError(f"{where}: malformed state (hypervisor)")
    return hv


def new_host_for(state: dict, trace=None) -> Host:
    return Host(frames_needed(state["mem_size"]) * PAGE_SIZE, trace=trace)


def new_guest(host: Host, state: dict, *, core: str | None, console_write=None,
              disk: str | None = None, where: str = "snapshot"):
    """A guest with the snapshot's name, memory size and symbols, its memory still zero."""
    if state["kind"] != "guest":
        raise SnapshotError(f"{where}: a bare-machine snapshot (restore it with hv restore "
                            "on the bare machine)")
    if len(state["cpus"]) != 1:
        raise SnapshotError(f"{where}: {len(state['cpus'])} CPUs; this hypervisor runs "
                            "one per guest")
    name = state.get("name") if isinstance(state.get("name"), str) else "guest"
    weight = state.get("params", {}).get("weight", 1)
    return host.add(name, image_from_symbols(state.get("symbols", [])),
                    mem_size=state["mem_size"], core=core or state.get("core", "c"),
                    console_write=console_write, console_input=ConsoleInput(b""), disk=disk,
                    weight=weight if isinstance(weight, int) and weight > 0 else 1)


def apply_state(vm, state: dict, where: str = "snapshot") -> None:
    """Put a guest (its memory already in place) into the saved CPU, hypervisor and device
    state."""
    hv = _check_hv(state, where)
    real_cr = list(vm.core.cr)
    vm.core.set_state(dict(state["cpus"][0]))
    # The real control registers belong to this host (user mode, paging on the shadow).
    for i, v in enumerate(real_cr):
        vm.core.cr[i] = v
    vm.core.tlb_flush()
    vm.vcr = list(hv["vcr"])
    vm.vtimer_period = hv["vtimer_period"]
    vm.vtimer_next = hv["vtimer_next"]
    vm.vpending = hv["vpending"] & 3
    if isinstance(hv.get("io_tokens"), int):
        vm.io_tokens = hv["io_tokens"]
    vm.shadow.flush()                   # empty views for the restored guest's mode
    try:
        vm.bus.restore(state["devices"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
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
