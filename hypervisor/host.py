"""The host: one memory pool, the guests carved from it, and the scheduler that shares the
CPU between them. The run loop is KVM-shaped: `core.run(budget)` returns an exit, the
hypervisor handles it (trap.py) and runs the guest again.

Scheduling is round robin: each runnable guest in turn gets a slice of `slice × weight` of
its own instructions. Guests count time in their own retired instructions, so the order
and length of slices never change what a guest computes or prints.

Host time is shared too: a guest's instructions can be dear for the host (every `tlbflush`
rebuilds its shadow tables, a disk request copies a megabyte), so each slice is charged the
host time it cost, divided by the guest's weight. A slice that has cost `HOST_SLICE × weight`
ends early (the guest loses the rest of it, as the I/O token bucket does for bytes), and a
guest whose charge runs more than `HOST_LAG` ahead of the least-charged runnable guest sits
out its turns until the others catch up. A guest alone is never held back.
"""
from __future__ import annotations

import time

from vcpu.exits import VMExit
from vcpu.isa import IRQ_BASE_CAUSE, PAGE_SIZE, Exit

from .memory import MemoryPool
from .shadow import frames_per_vcpu
from .trap import handle_trap
from .vm import MODES, VM

M32 = 0xFFFF_FFFF
LONE_SLICE = 1 << 20
MONITOR_SLICE = 50_000
HOST_SLICE = 0.0005         # seconds of host time one slice may cost (× weight)
HOST_LAG = 0.0005           # how far a guest's charge may run ahead of the least-charged one
BUDGET, TRAP, WFI = Exit.BUDGET, Exit.TRAP, Exit.WFI
# Exit reasons compare by identity and counter keys are built once: on the exit path each
# saved attribute lookup or string format is a visible share of the round trip.
TRAP_KEYS = tuple(f"trap:{c}" for c in range(256))


def wfi_reason(ncpus: int) -> str:
    if ncpus == 1:
        return "wfi with no timer and no interrupt pending would never wake"
    return "every vCPU waits in wfi with no timer and no interrupt pending; none would wake"


def frames_needed(mem_size: int, cpus: int = 1) -> int:
    """Frames one guest takes from the pool: its memory plus its shadow tables (one set per
    vCPU, the physical view shared)."""
    return (mem_size // PAGE_SIZE + frames_per_vcpu(mem_size, True)
            + (cpus - 1) * frames_per_vcpu(mem_size, False))


class Host:
    def __init__(self, pool_size: int, trace=None, host_threads: int = 1):
        self.pool = MemoryPool(pool_size)
        self.vms: list[VM] = []
        self.trace = trace          # None, or an object with .event(vm, kind, **fields)
        self.host_threads = host_threads    # > 1: guests run in parallel (threads.py)
        self.net = None             # a mobility.net.Switch when the guests share a network
        self.poll = None            # called between slices (the monitor's commands)

    def add(self, name, image, *, virt: str = "trap", paging: str = "shadow", **kw) -> VM:
        if (virt, paging) not in MODES:
            raise ValueError(f"--virt {virt} --paging {paging}: not a mode (nested paging "
                             "needs --virt hw)")
        if virt == "hw":
            from .hwvm import HwVM
            vm = HwVM(name, image, self.pool, paging=paging, **kw)
        else:
            vm = VM(name, image, self.pool, **kw)
        vm.tracing = self.trace is not None
        if vm.hw:
            vm.configure_exits()
        self.vms.append(vm)
        return vm

    def run(self, slice_: int = 10_000, max_steps: int | None = None) -> None:
        self.max_steps, self.slice = max_steps, slice_    # for live migration's pre-copy
        threads = min(self.host_threads, sum(vm.running for vm in self.vms))
        # A network runs in step; the monitor's commands run between slices of one thread.
        if threads > 1 and not self.trace and self.net is None and self.poll is None:
            from .threads import run_threaded
            return run_threaded(self, threads, slice_, max_steps)
        while True:
            if self.poll is not None:
                self.poll()
            runnable = [vm for vm in self.vms if vm.running]
            if not runnable:
                return
            # Alone, a guest has nobody to share with: long slices, as on the bare machine.
            alone = len(runnable) == 1
            floor = min(vm.host_charge for vm in runnable) + HOST_LAG
            net = self.net
            if net is not None and net.waiting(runnable):
                continue                          # all wait for the wire (or were stopped)
            for vm in runnable:
                cap = None
                if net is not None and getattr(vm, "nic", None) is not None:
                    # Guests on one network run in step (mobility/net.py), not by host time.
                    cap = net.cap(vm)
                    if cap <= 0 or not vm.running:
                        continue
                elif not alone and vm.host_charge > floor:
                    vm.stats.waited += 1          # its share of host time is spent
                    continue
                budget = LONE_SLICE if alone else slice_ * vm.weight
                if self.poll is not None:
                    budget = min(budget, MONITOR_SLICE)   # answer the monitor promptly
                if cap is not None and cap < budget:
                    budget = int(cap)
                trace = self.trace
                if trace:
                    trace.event(vm, "schedule", pc=vm.core.pc,
                                what=f"run {vm.name} for up to {budget} instructions")
                    t0, i0 = time.perf_counter_ns(), vm.core.slots
                self.run_slice(vm, budget, max_steps, None if alone else HOST_SLICE * vm.weight)
                if trace:
                    trace.slice(vm, t0, time.perf_counter_ns(), i0, vm.core.slots)
                    if not vm.running:
                        trace.event(vm, "stop", pc=vm.core.pc,
                                    what=f"{vm.stop_kind}: {vm.reason} (status {vm.status})")
            if all(getattr(vm, "io_pending", None) is not None for vm in runnable):
                time.sleep(0.0005)               # every guest waits for a fetch: do not spin

    def run_slice(self, vm: VM, budget: int, max_steps: int | None = None,
                  host_budget: float | None = None) -> None:
        """Run one guest for up to `budget` of its slots (its instructions, summed over its
        vCPUs: a guest's CPUs are all charged to it), and up to `host_budget` seconds of
        host time (checked at each exit)."""
        core = vm.core
        stats = vm.stats
        end = core.slots + budget
        if max_steps is not None:
            end = min(end, max_steps)
        stats.slices += 1
        vm.refill_io()
        pending = getattr(vm, "io_pending", None)
        if pending is not None and not pending.poll():
            # Still fetching (mobility/repodev.py): the wait counts as its share of host
            # time, so that the others are not held back waiting for it to catch up.
            vm.host_charge += (host_budget or 0.0) / vm.weight
            return
        clock = time.perf_counter
        t_slice = clock()
        # Host time is charged as this thread's CPU time: what the guest cost the host,
        # not the time other processes took the CPU away in between.
        cpu = time.thread_time
        c_slice = cpu()
        in_core = 0.0
        stops = vm.stops
        nic = getattr(vm, "nic", None)
        hw = vm.hw              # guest mode: the core keeps the timer and injects by itself
        while vm.state == "running":
            while stops and core.slots >= stops[0][0]:
                stops.pop(0)[1](vm)            # before the timer and injection, as on restore
                core = vm.core                 # a callback may have switched cores
                if vm.state != "running":
                    break
            if vm.state != "running":
                break
            if nic is not None:
                nic.deliver_due()                # frames whose time has come
                if nic.idle and not nic.idle_until(end):
                    break                        # still waiting in wfi
            now = core.slots
            if now >= end:
                if max_steps is not None and now >= max_steps:
                    vm.stop("max-steps", f"stopped after {max_steps} instructions (--max-steps)")
                break
            # The virtual timers and interrupts live in the real CPUs (vm.py): the core
            # stops by itself where a vCPU takes one, so the budget needs no cap for them.
            b = end - now
            if stops:
                b = min(b, stops[0][0] - now)
            if nic is not None and nic.inbox:
                b = min(b, nic.inbox[0][0] - now)
            t = clock()
            ex = core.run(b)
            in_core += clock() - t
            if hw:
                vm.drain_console()      # output the core posted (guest mode)
            if ex.reason is BUDGET:
                stats.exits["budget"] += 1
            else:
                self.handle_exit(vm, ex)
                if vm.throttled:
                    stats.throttled += 1
                    break
                if host_budget is not None and cpu() - c_slice > host_budget:
                    stats.host_cut += 1
                    break
        vm.host_charge += (cpu() - c_slice) / vm.weight
        spent = clock() - t_slice
        stats.core_time += in_core
        stats.hv_time += spent - in_core

    def handle_exit(self, vm: VM, ex: VMExit) -> None:
        stats = vm.stats
        if vm.smp:
            stats.cpu_exits[ex.cpu] += 1
        if ex.reason is TRAP:
            if ex.cause >= IRQ_BASE_CAUSE:         # an interrupt to inject (trap.py)
                kind, did = handle_trap(vm, ex)
                if self.trace:
                    self.trace.event(vm, kind, pc=ex.epc, what=did, cpu=ex.cpu)
                return
            stats.exits[TRAP_KEYS[ex.cause]] += 1
            kind, did = handle_trap(vm, ex)
            if self.trace:
                # sys and brk save the next pc; the trace names the instruction itself.
                pc = (ex.epc - len(ex.insn)) & M32 if ex.cause in (1, 2) else ex.epc
                self.trace.event(vm, kind, pc=pc, cause=ex.cause, insn=ex.insn, what=did,
                                 badaddr=ex.badaddr, cpu=ex.cpu)
            return
        if ex.reason is WFI:
            # every vCPU waits and none has a timer or a pending interrupt
            stats.exits["wfi"] += 1
            vm.stop("wfi", wfi_reason(vm.core.ncpus))
            return
        if vm.hw:
            kind, did = vm.handle_exit(ex)
            if self.trace:
                self.trace.event(vm, kind, pc=vm.core.pc, what=did)
            return
        # The guest runs in real user mode with every trap sent here, so any other exit
        # means the core broke its contract: stop this guest, keep the others.
        vm.stats.exits[ex.reason.name.lower()] += 1
        vm.stop("error", f"unexpected exit from the core: {ex.describe()}")

    def close(self, reason: str = "host stopped") -> None:
        """Stop every guest that still runs (their disks are flushed)."""
        for vm in self.vms:
            if vm.running:
                vm.stop("interrupted", reason)
                if self.trace:
                    self.trace.event(vm, "stop", pc=vm.core.pc,
                                     what=f"{vm.stop_kind}: {vm.reason} (status {vm.status})")
