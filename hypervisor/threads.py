"""Guests on host threads (`hv boot --host-threads N`).

The native core runs with Python's GIL released (a cffi call in API mode), so guests on
different host threads execute their instructions in parallel; only the exit handling in
Python takes turns. The scheduler becomes a shared queue: each of N worker threads takes the
next runnable guest, runs one slice of it (Host.run_slice, exactly as the single-threaded
loop does), and puts it back at the end of the queue. A guest is on at most one thread at a
time, so everything about one guest (its core, its virtual state, its devices, its
statistics) is touched by one thread at a time and needs no lock.

What changes and what does not:
- Each guest computes and prints exactly what it does alone: its time is its own
  instruction count, never the host's clock.
- Console writes go through one lock, so a guest's lines stay whole; the order in which
  lines of *different* guests interleave depends on the host's timing.
- The reference core is plain Python and holds the GIL: threads give it no speed.
- Tracing needs one global order of events: a traced run uses one thread.
"""
from __future__ import annotations

import threading
from collections import deque

LONE_SLICE = 1 << 20
HOST_SLICE = 0.0005         # as hypervisor/host.py


def run_threaded(host, n_threads: int, slice_: int = 10_000,
                 max_steps: int | None = None) -> None:
    queue = deque(vm for vm in host.vms if vm.running)
    cond = threading.Condition()
    in_flight = [0]
    stop = threading.Event()
    errors: list[BaseException] = []
    console_lock = threading.Lock()
    saved = {}
    for vm in host.vms:
        write = vm._console_write
        if write is not None:
            saved[vm] = write

            def locked(v, data, _write=write):
                with console_lock:
                    _write(v, data)
            vm._console_write = locked

    def worker():
        try:
            while not stop.is_set():
                with cond:
                    while not queue and in_flight[0]:
                        cond.wait()
                    if not queue:
                        return
                    vm = queue.popleft()
                    in_flight[0] += 1
                    # As many guests as threads: nobody waits for a turn, so long slices.
                    alone = len(queue) + in_flight[0] <= n_threads
                budget = LONE_SLICE if alone else slice_ * vm.weight
                try:
                    # Cut at its share of host time, as in the one-thread loop (host.py).
                    host.run_slice(vm, budget, max_steps,
                                   None if alone else HOST_SLICE * vm.weight)
                finally:
                    with cond:
                        in_flight[0] -= 1
                        if vm.running:
                            queue.append(vm)
                        cond.notify_all()
        except BaseException as e:       # handed to the main thread, which re-raises
            errors.append(e)
            stop.set()
            with cond:
                cond.notify_all()

    threads = [threading.Thread(target=worker, name=f"hv-host-{i}", daemon=True)
               for i in range(n_threads)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.1)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join()
        raise
    finally:
        for vm, write in saved.items():
            vm._console_write = write
    if errors:
        raise errors[0]
