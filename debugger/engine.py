"""The debugger engine under `hv debug` and `hv dap`: breakpoints, watchpoints, catchpoints,
stepping forward and backward, and the views of the machine.

Reverse execution is checkpoints plus deterministic replay (as rr and QEMU do it). The
machine's whole state (core, memory, devices, the hypervisor's view of the guest) is saved
every `interval` instructions while it runs; the set is thinned to fit a memory budget,
keeping checkpoints spaced exponentially back from the present (dense near it, sparse far
back). Going back to instruction count N restores the nearest checkpoint at or before N and
runs forward to N: the machine is deterministic (time is counted in retired instructions,
console input is fixed), so that is exactly the state it had. Searching backwards (for
reverse-continue, reverse-step, reverse-finish) replays one checkpoint interval at a time,
newest first, and remembers the last position that matched.

A position is an instruction count: the state at the instruction boundary where the count
reached it, before anything else happens there (a pending interrupt is taken on the way to
the next position). Console output is shown once: replaying a part already seen prints
nothing again.

`continue` and `reverse-continue` run at the core's full speed: breakpoints and watchpoints
are set in the core (`set_debug`), which exits where one is reached, and catchpoints are
traps sent to the debugger; each such event is then judged here exactly as a single step
would judge it (conditions, ignore counts, whether a `watch` write changes the value).
Line steps single-step from Python, except where they can run long: `next` over a call,
`until`/`advance`, `finish`, and going back over a call (`reverse-next`, `reverse-finish`)
find their end with the core's breakpoints and watchpoints too, judged by the same checks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from vcpu.image import Image
from vcpu.isa import (CAUSE_TEXT, LENGTHS, MAX_BREAKPOINTS, MAX_WATCHPOINTS, SP, WATCH_READ,
                      WATCH_WRITE, DecodeError, decode)

from .expr import Evaluator, ExprError
from .target import CR_NAMES, Stopped, make_target

M32 = 0xFFFF_FFFF
DEFAULT_BUDGET = 64 << 20
OP_CALL_I, OP_CALL_R, OP_RET, OP_PUSH, OP_POP = 0x4A, 0x4B, 0x4C, 0x50, 0x51
OP_SYS, OP_BRK, OP_IRET = 0x58, 0x59, 0x66
OP_XCHG = 0x37
LOADS = {0x30: 4, 0x31: 2, 0x32: 1}
STORES = {0x34: 4, 0x35: 2, 0x36: 1}
STEP_LIMIT = 50_000_000
SHADOW_LIMIT = 2_000_000
SWITCH_JUMP = 512             # an sp move at least this long is a change of stack
WATCH_MASK = {"watch": WATCH_WRITE, "rwatch": WATCH_READ, "awatch": WATCH_READ | WATCH_WRITE}
NO_ACCESS = {"reads": [], "writes": []}
ARRIVED = {"reads": [], "writes": [], "op": None, "sp": None}    # a breakpoint event's `pre`


class DebugError(ValueError):
    """A command that cannot be done; the message is one line for the user."""


@dataclass
class Breakpoint:
    number: int
    address: int
    where: str
    condition: str | None = None
    temporary: bool = False
    enabled: bool = True
    hits: int = 0
    ignore: int = 0


@dataclass
class Watchpoint:
    number: int
    kind: str            # watch | rwatch | awatch
    address: int
    length: int
    expr: str
    old: bytes | None = None
    hits: int = 0
    enabled: bool = True


@dataclass
class Catch:
    number: int
    kind: str            # trap | syscall | exit
    values: frozenset | None = None     # causes / syscall numbers; None = all
    hits: int = 0
    enabled: bool = True


@dataclass
class Stop:
    """Why the machine stopped: `reason` is breakpoint, watchpoint, catch, step, entry,
    exited, pause, history-start (reverse execution reached the start) or goto."""
    reason: str
    text: str = ""
    number: int | None = None           # the breakpoint / watchpoint / catch
    data: dict = field(default_factory=dict)


class _Paused(Exception):
    """A backward search was paused: the machine goes back to where it started."""

    def __init__(self, position):
        self.position = position


class Checkpoints:
    """Saved machine states by instruction count, within a memory budget."""

    def __init__(self, target, budget: int, interval: int):
        self.t = target
        self.budget = budget
        self.interval = interval
        self.states: dict[int, dict] = {}
        self.bytes = 0
        self.taken = 0

    def take(self) -> None:
        n = self.t.icount
        if n in self.states:
            return
        s = self.t.save()
        self.states[n] = s
        self.bytes += self.t.size_of(s)
        self.taken += 1
        self._thin(n)

    def _thin(self, now: int) -> None:
        """Drop checkpoints until the set fits: each time the one whose loss leaves the
        smallest gap relative to its distance from the present (keeps the first)."""
        while self.bytes > self.budget and len(self.states) > 2:
            keys = sorted(self.states)
            best, best_score = None, None
            for i in range(1, len(keys)):
                right = keys[i + 1] if i + 1 < len(keys) else max(now, keys[i]) + self.interval
                gap = right - keys[i - 1]
                score = gap / max(1, abs(now - keys[i]))
                if best_score is None or score < best_score:
                    best, best_score = keys[i], score
            self.bytes -= self.t.size_of(self.states.pop(best))

    def at_or_before(self, n: int) -> int:
        return max(k for k in self.states if k <= n)

    def before(self, n: int) -> int | None:
        ks = [k for k in self.states if k < n]
        return max(ks) if ks else None

    def restore(self, n: int) -> None:
        self.t.restore(self.states[n])


class Debugger:
    def __init__(self, image: Image, *, hv: bool = False, core: str = "c", cpus: int = 1,
                 input: bytes = b"", mem_size: int | None = None, output=None,
                 budget: int = DEFAULT_BUDGET, interval: int | None = None,
                 program: str | None = None, quantum: int | None = None,
                 virt: str = "trap", paging: str = "shadow"):
        kw = {} if mem_size is None else {"mem_size": mem_size}
        if quantum is not None:
            kw["quantum"] = quantum
        self.image = image
        self.program = program
        self.out = output                 # callable(bytes) for the guest's console
        self.shown = 0                    # console bytes already shown
        self.t = make_target(image, hv=hv, core=core, cpus=cpus, input=input, virt=virt,
                             paging=paging,
                             console_write=self._console, **kw)
        if interval is None:
            interval = 1 << 20 if self.t.core_kind == "c" else 1 << 15
        self.cp = Checkpoints(self.t, budget, interval)
        self.cp.take()
        self.breakpoints: dict[int, Breakpoint] = {}
        self.watchpoints: dict[int, Watchpoint] = {}
        self.catches: dict[int, Catch] = {}
        self.displays: dict[int, str] = {}
        self.next_number = 1
        self.pause_requested = False
        self.skip_catch = False           # the next step goes past a catch we stopped at
        self.idle_step = False            # the last step was a slot spent waiting in wfi
        self.symbols = {s.name: s for s in image.symbols}
        labels = sorted((s.value, s.name) for s in image.symbols if s.kind != 2)
        self._label_addrs = [a for a, _ in labels]
        self._label_names = [n for _, n in labels]
        self.last_stop: Stop | None = Stop("entry", "at the entry point")
        self.phase = 0
        # position -> {cpu: its shadow call stack}
        self._shadow_known: dict = {(0, 0): {}}

    # --- CPUs ----------------------------------------------------------------------------
    @property
    def thread(self) -> int:
        """The selected CPU: registers, memory views and line steps are its."""
        return self.t.thread

    @thread.setter
    def thread(self, n: int) -> None:
        if not 0 <= n < self.t.ncpus:
            raise DebugError(f"no CPU {n} (CPUs 0..{self.t.ncpus - 1})")
        self.t.thread = n

    @property
    def multi(self) -> bool:
        return self.t.ncpus > 1

    # --- console -----------------------------------------------------------------------
    def _console(self, data: bytes = b"") -> None:
        n = len(self.t.output)
        if n > self.shown:
            new = self.t.output[self.shown:n]
            self.shown = n
            if self.out:
                self.out(new)

    # --- basic facts --------------------------------------------------------------------
    @property
    def icount(self) -> int:
        return self.t.icount

    @property
    def pc(self) -> int:
        return self.t.pc

    @property
    def hv(self) -> bool:
        return self.t.hv

    @property
    def running(self) -> bool:
        return self.t.stop_reason is None

    def where(self, addr: int | None = None) -> str:
        addr = self.pc if addr is None else addr
        return self.symbolize(addr)

    def symbolize(self, addr: int) -> str:
        import bisect
        i = bisect.bisect_right(self._label_addrs, addr) - 1
        if i >= 0:
            base = self._label_addrs[i]
            name = self._label_names[i]
            size = self.symbols[name].size
            if addr == base:
                return name
            if not size or addr < base + size:
                return f"{name}+0x{addr - base:x}"
        return f"0x{addr:08x}"

    def source(self, addr: int | None = None):
        """(file, line, column) of `addr` (default pc), or None."""
        return self.image.source_of(self.pc if addr is None else addr)

    def line_key(self, addr: int):
        row = self.image.line_at(addr)
        return (row.file, row.line) if row else None

    def read_word(self, va: int, n: int = 4) -> int | None:
        raw = self.t.read_virt(va & M32, n)
        return int.from_bytes(raw, "little") if raw is not None else None

    def insn_at(self, va: int):
        t = self.t
        if not t.hv and not t.core.cr[0] & 4 and va + 6 <= t.core.mem_size:
            raw = bytes(t.mem[va:va + 6])
        else:
            raw = t.read_virt(va & M32, 6) or t.read_virt(va & M32, 1)
        if not raw:
            return None
        n = LENGTHS[raw[0]]
        if n == 0 or len(raw) < n:
            return None
        raw = raw[:n]
        hit = _DECODED.get(raw)
        if hit is None:
            try:
                hit = decode(raw)
            except DecodeError:
                return None
            if len(_DECODED) > 65536:
                _DECODED.clear()
            _DECODED[raw] = hit
        return hit

    # --- expressions --------------------------------------------------------------------
    def lookup(self, name: str) -> int | None:
        low = name.lower()
        regs = self.t.regs
        if low == "pc":
            return self.pc
        if low == "sp":
            return regs[SP]
        if low[:1] == "r" and low[1:].isdigit() and int(low[1:]) < 16:
            return regs[int(low[1:])]
        if low == "icount":
            return self.icount & M32
        if low == "cpuid":
            return self.thread
        if low in CR_NAMES:
            try:
                return self.t.cr_view()[CR_NAMES.index(low)]
            except IndexError:
                return None
        s = self.symbols.get(name)
        return s.value if s else None

    def evaluate(self, text: str) -> int:
        try:
            return Evaluator(self.lookup, self.read_word).eval(text)
        except ExprError as e:
            raise DebugError(str(e)) from None

    # --- locations ----------------------------------------------------------------------
    def resolve(self, spec: str) -> list[tuple[int, str]]:
        """`*ADDR`, `SYMBOL`, `FILE:LINE` or `LINE` -> [(address, description)]."""
        spec = spec.strip()
        if not spec:
            raise DebugError("a location is needed: SYMBOL, FILE:LINE, LINE or *ADDRESS")
        if spec.startswith("*"):
            a = self.evaluate(spec[1:])
            return [(a, self.symbolize(a))]
        file, _, line = spec.rpartition(":")
        if line.isdigit() and (file or spec.isdigit()):
            return self._line_addresses(file, int(line), spec)
        if spec in self.symbols and self.symbols[spec].kind != 2:
            a = self.symbols[spec].value
            return [(a, spec)]
        try:
            a = self.evaluate(spec)
        except DebugError:
            raise DebugError(f"no symbol, line or address '{spec}'") from None
        return [(a, self.symbolize(a))]

    def _line_addresses(self, file: str, line: int, spec: str) -> list[tuple[int, str]]:
        im = self.image
        if not im.lines:
            raise DebugError("the image has no line table (assemble it again with this hv)")
        if file:
            cands = [i for i, f in enumerate(im.files) if _same_file(f, file)]
            if not cands:
                raise DebugError(f"no source file '{file}' in the line table")
        else:
            main = self.program
            cands = [i for i, f in enumerate(im.files) if main and _same_file(f, main)] or [0]
        # The first line at or after LINE that produced bytes (as gdb moves a breakpoint).
        rows = [r for r in im.lines if r.file in cands and r.line >= line]
        if not rows:
            raise DebugError(f"no code at or after line {line} of {file or im.files[cands[0]]}")
        best = min(r.line for r in rows)
        out, seen = [], set()
        for r in rows:
            if r.line == best and r.address not in seen:
                seen.add(r.address)
                out.append((r.address, f"{os.path.basename(im.files[r.file])}:{r.line}"))
        # A macro call produces several rows: break at its first instruction.
        return [min(out)] if out and all(im.line_at(a).flags & 1 for a, _ in out) else out

    # --- breakpoints and friends --------------------------------------------------------
    def _number(self) -> int:
        n = self.next_number
        self.next_number += 1
        return n

    def add_breakpoint(self, spec: str, condition: str | None = None,
                       temporary: bool = False) -> list[Breakpoint]:
        if condition:
            self.evaluate(condition)          # refuse a bad condition now, not at a stop
        out = []
        for addr, where in self.resolve(spec):
            b = Breakpoint(self._number(), addr, where, condition or None, temporary)
            self.breakpoints[b.number] = b
            out.append(b)
        return out

    def add_watchpoint(self, spec: str, kind: str = "watch") -> Watchpoint:
        """`ADDR`, `ADDR,LEN`, `SYMBOL` (its size, or a word)."""
        expr, _, length = spec.partition(",")
        expr = expr.strip()
        sym = self.symbols.get(expr.lstrip("&"))
        addr = self.evaluate(expr.lstrip("&")) if not sym else sym.value
        if length.strip():
            n = self.evaluate(length)
        else:
            n = min(sym.size, 4) if sym and sym.size else 4
        if not 1 <= n <= 4096:
            raise DebugError("a watched range is 1 to 4096 bytes")
        w = Watchpoint(self._number(), kind, addr, n, spec.strip())
        w.old = self.t.read_virt(addr, n)
        self.watchpoints[w.number] = w
        return w

    def add_catch(self, kind: str, values=None) -> Catch:
        if kind == "exit" and not self.hv:
            raise DebugError("catch exit: hypervisor exits exist under --hv only")
        c = Catch(self._number(), kind, frozenset(values) if values else None)
        self.catches[c.number] = c
        return c

    def delete(self, numbers=None) -> None:
        if numbers is None:
            self.breakpoints.clear()
            self.watchpoints.clear()
            self.catches.clear()
            return
        for n in numbers:
            if not (self.breakpoints.pop(n, None) or self.watchpoints.pop(n, None)
                    or self.catches.pop(n, None)):
                raise DebugError(f"no breakpoint number {n}")

    def _catch_mask(self) -> tuple[int, bool]:
        mask, exits = 0, False
        for c in self.catches.values():
            if not c.enabled:
                continue
            if c.kind == "trap":
                for cause in (c.values or range(1, 32)):
                    mask |= 1 << cause
            elif c.kind == "syscall":
                mask |= 1 << 1
            else:
                exits = True
        return mask, exits

    def _stepping_needed(self) -> bool:
        return (any(b.enabled for b in self.breakpoints.values())
                or any(w.enabled for w in self.watchpoints.values())
                or any(c.enabled for c in self.catches.values()))

    # --- one step -----------------------------------------------------------------------
    def _step1(self, catches: bool = True, exits_only: bool = False):
        """One instruction (through whatever traps and exits it causes). Returns a
        caught exit (the machine then stands before it) or None. With `exits_only`,
        only exits to the hypervisor are caught."""
        mask, exits = self._catch_mask() if catches and not self.skip_catch else (0, False)
        if exits_only:
            mask, exits = 0, True
        self.skip_catch = False
        before = self.icount
        cpus = self.t.core.cpus
        idle = [c.idle for c in cpus]
        if self.hv:
            ex = self.t.step_exact(mask, exits)
        else:
            ex = self.t.step_exact(mask)
        # A slot passed waiting in wfi arrives nowhere (the breakpoint after the wfi was
        # seen when it retired, as the cores see it).
        self.idle_step = cpus[self.t.acted if self.multi else 0].idle != idle[
            self.t.acted if self.multi else 0]
        if ex is None:
            self.phase = self.phase + 1 if self.icount == before else 0
        self._maybe_checkpoint()
        return ex

    @property
    def position(self) -> tuple[int, int]:
        """(instruction count, traps delivered since it was reached)."""
        return (self.icount, self.phase)

    def goto_position(self, pos: tuple[int, int], replay: bool = False) -> None:
        self.goto(pos[0], replay)
        try:
            while self.phase < pos[1] and self.running:
                self._step1(catches=False)
        except Stopped:
            pass

    def _maybe_checkpoint(self) -> None:
        if self.phase == 0 and (self.icount % self.cp.interval == 0
                                or self.icount - max(self.cp.states) >= self.cp.interval):
            self.cp.take()

    def _catch_matches(self, ex):
        from vcpu.isa import Exit
        for c in self.catches.values():
            if not c.enabled:
                continue
            if c.kind == "exit":
                return c
            if ex.reason != Exit.TRAP:
                continue
            if c.kind == "trap" and (c.values is None or ex.cause in c.values):
                return c
            if c.kind == "syscall" and ex.cause == 1 and (c.values is None
                                                          or ex.badaddr in c.values):
                return c
        return None

    # --- running forward ----------------------------------------------------------------
    def _forward(self, check=None, limit: int | None = None, machine: bool = False,
                 target=None) -> Stop:
        """Run until a breakpoint, watchpoint or catchpoint, `check()` returns a Stop,
        `limit` instructions have retired, the machine stops or a pause is asked for.
        `target` = (addresses, watched range or None) says where `check` can become true:
        only where the selected CPU arrives at one of the addresses, or right after an
        instruction of it that reads the range. The run then goes at the core's speed
        with those as breakpoints and watchpoints, and `check` is asked at those events."""
        t = self.t
        self.pause_requested = False
        t.interrupt = False
        stepping = check is not None or self._stepping_needed()
        watching = any(w.enabled for w in self.watchpoints.values())
        start = self.icount
        try:
            while True:
                if not self.running:
                    return self._exited()
                if self.pause_requested:
                    return Stop("pause", "paused")
                if limit is not None and self.icount >= limit:
                    return Stop("step", "")
                if not stepping:
                    nxt = (self.icount // self.cp.interval + 1) * self.cp.interval
                    end = min(nxt, limit) if limit is not None else nxt
                    t.run_until(end)
                    self.phase = 0
                    if self.icount >= nxt or self.icount % self.cp.interval == 0:
                        self.cp.take()
                    continue
                settings = (self._core_settings(target)
                            if check is None or target is not None else None)
                if settings is not None and not self.skip_catch:
                    stop = self._continue_fast(settings, limit, check)
                    if stop is not None:
                        return stop
                    continue
                me = self.t.thread
                actor = self.t.next_actor() if self.multi else me
                if actor == me or watching:
                    pre = self._pre_step(actor)
                else:
                    pre = {"reads": [], "writes": []}   # another CPU's slot: not looked at
                before = self.icount
                ex = self._step1()
                if ex is None and (self.icount == before or self.idle_step):
                    # a trap was taken instead, or the CPU waited: the instruction did
                    # not run, so it read and wrote nothing
                    pre = dict(pre, op=None, reads=[], writes=[])
                if ex is not None:
                    c = self._catch_matches(ex)
                    if c is None:
                        self.skip_catch = True
                        continue
                    c.hits += 1
                    self.skip_catch = True
                    if self.multi:
                        self.t.thread = actor      # the CPU that traps, as gdb selects it
                    return Stop("catch", self._catch_text(c, ex), c.number,
                                {"cause": ex.cause, "badaddr": ex.badaddr})
                if not self.running:
                    return self._exited()          # powered off: it arrives nowhere
                stop = self._after_step(pre)
                # With several CPUs a step of the selected thread is a slot it took: the
                # others' slots in between run, and only breakpoints and watchpoints see them.
                if stop is None and check is not None and (
                        machine or not self.multi or self.t.acted == me == actor):
                    stop = check(pre)
                if stop is not None:
                    return stop
                if self.icount - start > STEP_LIMIT and check is not None:
                    return Stop("step", f"stopped after {STEP_LIMIT} instructions")
        except Stopped:
            return self._exited()

    def pause(self) -> None:
        """Ask a running command to stop (from another thread, or a signal handler): it
        stops at the next instruction boundary it checks, going forward; going back, it
        returns to where it started."""
        self.pause_requested = True
        self.t.interrupt = True

    def _core_settings(self, target=None):
        """The enabled breakpoints, watchpoints and catchpoints as the core and
        `Target.run_fast` take them: (pcs, watches, catch mask, catch exits), or None
        when there are more than the core holds (then everything steps). A `target`'s
        addresses are breakpoints too."""
        pcs = {b.address for b in self.breakpoints.values() if b.enabled}
        watches = [(w.address, w.length, WATCH_MASK[w.kind])
                   for w in self.watchpoints.values() if w.enabled]
        if target is not None:
            pcs |= target[0]
            if target[1] is not None:
                watches.append(target[1])
        if len(pcs) > MAX_BREAKPOINTS or len(watches) > MAX_WATCHPOINTS:
            return None
        mask, exits = self._catch_mask()
        return pcs, watches, mask, exits

    def _run_fast(self, settings, end: int, until=None):
        pcs, watches, mask, exits = settings
        ev, self.phase = self.t.run_fast(end, self.phase, pcs=pcs, watches=watches,
                                         catch_mask=mask, catch_exits=exits,
                                         catch=self._catch_matches, until=until)
        return ev

    def _continue_fast(self, settings, limit, check=None) -> Stop | None:
        """Forward at the core's speed to the next event, up to the next checkpoint
        boundary or `limit`, and judge it as a single step would. None: go on."""
        nxt = (self.icount // self.cp.interval + 1) * self.cp.interval
        end = min(nxt, limit) if limit is not None else nxt
        ev = self._run_fast(settings, end)
        if ev is None:
            self._maybe_checkpoint()
            return None
        cpu, kind = ev["cpu"], ev["kind"]
        # What a watchpoint last saw is what is there now: between events nothing the
        # core watches was touched (a step would have updated it after every instruction).
        self._resync_watch()
        if kind == "break":
            self.t.acted = cpu
            self.idle_step = False
            return self._after_step(NO_ACCESS) or self._check_at(check, cpu, ARRIVED)
        if kind == "watch":
            # the instruction touches a watched range: run it, and judge it as a step
            pre = self._pre_step(cpu if self.multi else None)
            self._step1(catches=False)
            return self._after_step(pre) or self._check_at(check, self.t.acted, pre)
        ex = ev["ex"]
        c = self._catch_matches(ex)
        c.hits += 1
        # The core went some way into the trap before it exited (an interrupt taken out
        # of `pending`, the TLB filled by the fetch of a faulting instruction): the state
        # at the position, before all that, is had again by replaying to it.
        self.goto_position(ev["pos"], replay=True)
        self.skip_catch = True
        if self.multi:
            self.t.thread = cpu                  # the CPU that traps, as gdb selects it
        return Stop("catch", self._catch_text(c, ex), c.number,
                    {"cause": ex.cause, "badaddr": ex.badaddr})

    def _check_at(self, check, cpu: int, pre: dict) -> Stop | None:
        """A line step's `check` at an event, where a step would ask it: only after the
        selected CPU's own slots."""
        if check is None or (self.multi and cpu != self.t.thread):
            return None
        return check(pre)

    def _run_to_return(self, ret: int, sp0: int) -> Stop:
        """Forward until the selected CPU is back at `ret` with sp at `sp0`: the return
        from a call made there, whatever the callee does on the way."""
        return self._forward(check=lambda pre: Stop("step") if (
            self.pc == ret and self.t.regs[SP] == sp0) else None, target=({ret}, None))

    def _exited(self) -> Stop:
        return Stop("exited", self.t.stop_reason or "the machine is off",
                    data={"status": self.t.status if not self.hv else self.t.vm.status})

    def _catch_text(self, c: Catch, ex) -> str:
        from vcpu.isa import Exit
        if c.kind == "exit":
            what = (CAUSE_TEXT.get(ex.cause, f"cause {ex.cause}") if ex.reason == Exit.TRAP
                    else ex.reason.name.lower())
            return f"Catchpoint {c.number} (hypervisor exit: {what} at 0x{ex.epc:08x})"
        what = CAUSE_TEXT.get(ex.cause, f"cause {ex.cause}")
        if ex.cause == 1:
            return f"Catchpoint {c.number} (syscall {ex.badaddr})"
        detail = f", badaddr 0x{ex.badaddr:x}" if ex.cause in (5, 6, 7) else ""
        return f"Catchpoint {c.number} (trap: {what}{detail})"

    def _pre_step(self, cpu: int | None = None) -> dict:
        """What the next instruction of CPU `cpu` (default: the selected one) reads and
        writes, before it runs."""
        if cpu is not None and cpu != self.t.thread:
            me = self.t.thread
            self.t.thread = cpu
            try:
                info = self._pre_step()
            finally:
                self.t.thread = me
            info["cpu"] = cpu
            return info
        pc, regs = self.pc, self.t.regs
        d = self.insn_at(pc)
        info = {"pc": pc, "sp": regs[SP], "icount": self.icount, "insn": d, "op": None,
                "reads": [], "writes": [], "cpu": self.t.thread}
        if d is None:
            return info
        op = d.instr.opcode
        info["op"] = op
        f = d.fields
        # "values": what each write puts there, so that a watch (value changed) can be
        # decided before the instruction runs (reverse-continue)
        info["values"] = []
        if op in LOADS:
            info["reads"].append(((regs[f["y"]] + f["imm"]) & M32, LOADS[op]))
        elif op in STORES:
            n = STORES[op]
            info["writes"].append(((regs[f["y"]] + f["imm"]) & M32, n))
            info["values"].append((regs[f["x"]] & ((1 << 8 * n) - 1)).to_bytes(n, "little"))
        elif op == OP_XCHG:
            a = (regs[f["y"]] + f["imm"]) & M32
            info["reads"].append((a, 4))
            info["writes"].append((a, 4))
            info["values"].append((regs[f["x"]] & M32).to_bytes(4, "little"))
        elif op in (OP_CALL_I, OP_CALL_R, OP_PUSH):
            info["writes"].append(((regs[SP] - 4) & M32, 4))
            v = regs[f["x"]] if op == OP_PUSH else pc + d.instr.length
            info["values"].append((v & M32).to_bytes(4, "little"))
        elif op in (OP_RET, OP_POP):
            info["reads"].append((regs[SP], 4))
        return info

    def _after_step(self, pre: dict) -> Stop | None:
        stop = None
        for w in self.watchpoints.values():
            if not w.enabled:
                continue
            new = self.t.read_virt(w.address, w.length)
            changed = new != w.old
            hit_r = any(_overlap(a, n, w.address, w.length) for a, n in pre["reads"])
            hit_w = any(_overlap(a, n, w.address, w.length) for a, n in pre["writes"])
            old = w.old
            w.old = new                  # every watchpoint sees the step, even after a stop
            if stop is None and ((w.kind == "watch" and changed) or (w.kind == "rwatch" and hit_r)
                                 or (w.kind == "awatch" and (hit_r or hit_w or changed))):
                w.hits += 1
                if self.multi:
                    self.t.thread = self.t.acted    # the CPU whose access it was
                stop = Stop("watchpoint", self._watch_text(w, old, new, hit_r), w.number,
                            {"old": old, "new": new})
        if stop is not None:
            return stop
        if self.idle_step:
            return None
        if self.multi and self.t.acted != self.t.thread:
            # a breakpoint stops the CPU that arrives there: look at its pc
            me = self.t.thread
            self.t.thread = self.t.acted
            stop = self._breakpoint_here()
            if stop is None:
                self.t.thread = me
            return stop
        return self._breakpoint_here()

    def _condition_true(self, condition: str) -> bool:
        """A breakpoint condition; one that cannot be evaluated counts as true, so the
        breakpoint stops and the user sees why (as gdb does)."""
        try:
            return bool(self.evaluate(condition))
        except DebugError:
            return True

    def _breakpoint_here(self) -> Stop | None:
        pc = self.pc
        for b in list(self.breakpoints.values()):
            if b.enabled and b.address == pc:
                if b.condition and not self._condition_true(b.condition):
                    continue
                if b.ignore:
                    b.ignore -= 1
                    continue
                b.hits += 1
                if b.temporary:
                    del self.breakpoints[b.number]
                kind = "Temporary breakpoint" if b.temporary else "Breakpoint"
                return Stop("breakpoint", f"{kind} {b.number}, {self.where()}", b.number)
        return None

    def _watch_text(self, w, old, new, read) -> str:
        def show(v):
            return "(unmapped)" if v is None else str(int.from_bytes(v, "little"))
        label = {"watch": "Hardware watchpoint", "rwatch": "Hardware read watchpoint",
                 "awatch": "Hardware access (read/write) watchpoint"}[w.kind]
        if old != new:
            return f"{label} {w.number}: {w.expr}\nOld value = {show(old)}\nNew value = {show(new)}"
        return f"{label} {w.number}: {w.expr}\nValue = {show(new)}"

    # --- forward commands ---------------------------------------------------------------
    def cont(self) -> Stop:
        return self._done(self._forward())

    def stepi(self, n: int = 1) -> Stop:
        stop = None
        for _ in range(n):
            if not self.running:
                return self._done(self._exited())
            # one slot of the machine, whichever CPU's (with one CPU, one instruction)
            stop = self._forward(check=lambda pre: Stop("step"), limit=None, machine=True)
            if stop.reason != "step":
                break
        return self._done(stop)

    def nexti(self, n: int = 1) -> Stop:
        stop = None
        for _ in range(n):
            stop = self._over_one()
            if stop.reason != "step":
                break
        return self._done(stop)

    def _over_one(self) -> Stop:
        """One instruction, a call being one instruction (up to its return)."""
        d = self.insn_at(self.pc)
        if d is None or d.instr.opcode not in (OP_CALL_I, OP_CALL_R):
            return self._forward(check=lambda pre: Stop("step"))
        return self._run_to_return((self.pc + d.instr.length) & M32, self.t.regs[SP])

    def step(self, n: int = 1, over: bool = False) -> Stop:
        stop = None
        for _ in range(n):
            stop = self._line_step(over)
            if stop.reason != "step":
                break
        return self._done(stop)

    def _line_step(self, over: bool) -> Stop:
        start = self.line_key(self.pc)
        if start is None:
            return self._over_one() if over else self._forward(check=lambda pre: Stop("step"))
        depth = [0]
        sp0 = self.t.regs[SP]

        def check(pre):
            op = pre["op"]
            if over and op in (OP_CALL_I, OP_CALL_R):
                # Run the callee to its return as one step.
                inner = self._run_to_return((pre["pc"] + pre["insn"].instr.length) & M32,
                                            pre["sp"])
                if inner.reason != "step":
                    return inner
            key = self.line_key(self.pc)
            row = self.image.line_at(self.pc)
            if key is not None and key != start and row.address == self.pc:
                return Stop("step")
            if op == OP_RET and self.t.regs[SP] > sp0 and key is not None and key != start:
                return Stop("step")          # returned into the middle of a caller's line
            return None
        del depth
        return self._forward(check=check)

    def finish(self) -> Stop:
        sp0 = self.t.regs[SP]
        here = self.where()

        def check(pre):
            if pre["op"] == OP_RET and pre["sp"] >= sp0:
                return Stop("step", f"Run till exit from {here}")
            return None
        # Such a `ret` reads its return address at sp0 or above: the core looks for
        # reads there (every CPU's; each is judged here).
        return self._done(self._forward(check=check, target=(
            set(), (sp0, (1 << 32) - sp0, WATCH_READ))))

    def until(self, spec: str | None = None) -> Stop:
        if spec:
            addrs = {a for a, _ in self.resolve(spec)}
            sp0 = self.t.regs[SP]
            return self._done(self._forward(check=lambda pre: Stop("step") if (
                self.pc in addrs and self.t.regs[SP] >= sp0) else None, target=(addrs, None)))
        start_pc = self.pc
        while True:
            stop = self._line_step(over=True)
            if stop.reason != "step" or self.pc > start_pc:
                return self._done(stop)

    # --- going back ---------------------------------------------------------------------
    def goto(self, n: int, replay: bool = False) -> Stop:
        """Go to instruction count `n` (back or forward), with nothing checked on the way;
        with `replay`, from a checkpoint even when the machine is already there."""
        if n < 0:
            raise DebugError("an instruction count is >= 0")
        if n < self.icount or (n == self.icount and self.phase) or not self.running or replay:
            base = self.cp.at_or_before(n)
            self.cp.restore(base)
        self.skip_catch = False
        self.phase = 0
        self._run_to(n)
        for w in self.watchpoints.values():
            w.old = self.t.read_virt(w.address, w.length)
        return self._done(Stop("goto", f"at instruction {self.icount}"))

    def _run_to(self, n: int) -> None:
        """Fast forward to `n`, leaving checkpoints on the way."""
        try:
            while self.icount < n and self.running:
                nxt = (self.icount // self.cp.interval + 1) * self.cp.interval
                self.t.run_until(min(n, nxt))
                if self.icount % self.cp.interval == 0:
                    self.cp.take()
        except Stopped:
            pass

    def _scan_back(self, visit, now=None, probe=None, light: bool = False,
                   mine: bool = False, arrivals: bool = False):
        """Replay backwards in windows that grow four-fold, newest first: the machine goes
        to the window's start (restoring a checkpoint and running forward at full speed)
        and is stepped through it. `visit(segment)` gets the window's positions, up to
        (not including) `now`, in order, as dicts made by `_pre_step` (the state at each
        position, before its instruction; only 'icount', 'pc' and 'pos' when `light`),
        with 'hit' = `probe(pre)` computed while the machine stood there. It returns a
        position to stop at, or None to look further back.

        With several CPUs each position's dict is that of the CPU that takes the next
        step ('cpu'; the probe runs with it selected); with `mine`, only the positions
        where the selected CPU does are visited (the reverse line and call steps).

        With `arrivals` (reverse-continue by steps), breakpoints are judged where a CPU
        arrives, after its step, as the cores judge them, and each arrival that stops
        adds an entry {'pos', 'hit', 'cpu'}; under `--hv` a caught exit's step gets a
        'hit' too."""
        now = self.position if now is None else now
        first = min(self.cp.states)
        hi = now
        width = 64
        t = self.t
        me = t.thread
        multi = self.multi and not light
        bps = {b.address for b in self.breakpoints.values() if b.enabled} if arrivals else ()
        exit_catch = next((c for c in self.catches.values() if c.enabled and c.kind == "exit"),
                          None) if arrivals and self.hv else None
        while hi > (first, 0):
            if self.pause_requested:
                raise _Paused(now)
            lo = max(first, hi[0] - width)
            width *= 4
            self.goto(lo)
            segment = []
            try:
                while self.position < hi and self.running and not self.pause_requested:
                    if light:
                        pre = {"icount": self.icount, "pc": t.pc}
                    else:
                        actor = t.next_actor() if multi else me
                        pre = self._pre_step(actor)
                        pre["key"] = self.line_key(pre["pc"])
                    pre["pos"] = self.position
                    if probe is not None:
                        t.thread = pre.get("cpu", me)
                        try:
                            pre["hit"] = probe(pre)
                        finally:
                            t.thread = me
                    ex = self._step1(exits_only=True) if exit_catch is not None else None
                    if ex is not None:            # the machine stands before the exit
                        pre["hit"] = pre.get("hit") or (
                            "catch", exit_catch.number, self._catch_text(exit_catch, ex))
                    if exit_catch is None or ex is not None:
                        self._step1(catches=False)
                    if multi and mine and pre["cpu"] != me:
                        continue                # another CPU's slot
                    if not light and (self.icount == pre["pos"][0] or self.idle_step):
                        # A trap was delivered instead, or the CPU waited in wfi: the
                        # instruction did not run here (it runs later).
                        pre["op"] = None
                        pre["reads"], pre["writes"] = [], []
                        hit = pre.get("hit")
                        if hit is not None and (hit[0] == "watchpoint" or (
                                hit[0] == "catch" and len(hit) == 3 and not (
                                    exit_catch is not None and hit[1] == exit_catch.number))):
                            pre["hit"] = None
                    segment.append(pre)
                    if bps and not self.idle_step:
                        cpu = t.acted if self.multi else me
                        if t.core.cpus[cpu].pc in bps:
                            t.thread = cpu
                            try:
                                hit = self._hit_at({"pc": t.pc, "pos": self.position})
                            finally:
                                t.thread = me
                            if hit is not None:
                                segment.append({"pos": self.position, "hit": hit, "cpu": cpu})
            except Stopped:
                pass
            if self.pause_requested:
                raise _Paused(now)
            found = visit(segment)
            if found is not None:
                return found
            hi = (lo, 0)
        return None

    def _deliver_caught(self, ex) -> None:
        """Take an interrupt that a catch event returned undelivered (the core has
        already taken it out of `pending`), as the run would have."""
        before = self.icount
        moved = self.t._service(ex)
        if self.icount != before:
            self.phase = 0
        elif moved == 2:
            self.phase += 1

    def _back_in_windows(self, now, search):
        """Replay windows growing four-fold from 4,096 instructions back from `now`,
        newest first: `search(lo, hi)` runs with the machine at `lo` and returns what it
        found, or None to look further back. None when the history is exhausted."""
        first = min(self.cp.states)
        hi = now
        width = 4096
        while hi > (first, 0):
            if self.pause_requested:
                raise _Paused(now)
            lo = max(first, hi[0] - width)
            width *= 4
            self.goto(lo)
            result = search(lo, hi)
            if self.pause_requested:
                raise _Paused(now)
            if result is not None:
                return result
            hi = (lo, 0)
        return None

    def _scan_back_fast(self, settings, now, found: dict):
        """`_scan_back` for reverse-continue at the core's speed: each window is replayed
        with `Target.run_fast`, and only its events are judged (by `_hit_at`, while the
        machine stands there). Returns the last position before `now` where a forward
        run would have stopped, or None."""
        def search(lo, hi):
            hits = self._window_hits(settings, hi, now)
            if not hits:
                return None
            # the last in forward order: at one position a breakpoint (the arrival)
            # comes before a catchpoint (before the instruction traps)
            land, hit, cpu = max(enumerate(hits), key=lambda e: (e[1][0], e[0]))[1]
            found["hit"], found["cpu"] = hit, cpu
            return land
        return self._back_in_windows(now, search)

    def _window_hits(self, settings, hi, now) -> list:
        """Replay from here to position `hi`; every (landing position, hit, cpu) that a
        forward run would have stopped at, before `now`."""
        t = self.t
        me = t.thread
        hits = []

        def judge(pre, cpu, breakpoints=True):
            t.thread = cpu
            try:
                hit = self._hit_at(pre, breakpoints)
            finally:
                t.thread = me
            if hit is not None:
                land = hit[3] if len(hit) > 3 else pre["pos"]
                if land < now:
                    hits.append((land, hit, cpu))
        try:
            while self.running and self.position < hi and not self.pause_requested:
                ev = self._run_fast(settings, 0, until=hi)
                if ev is None:
                    break
                cpu, kind, pos = ev["cpu"], ev["kind"], ev["pos"]
                if kind == "break":
                    judge({"pc": t.core.cpus[cpu].pc, "pos": pos}, cpu)
                    continue
                if kind == "watch":
                    pre = self._pre_step(cpu if self.multi else None)
                    pre["pos"] = pos
                    judge(pre, cpu, breakpoints=False)    # the CPU did not arrive here now
                else:
                    ex = ev["ex"]
                    c = self._catch_matches(ex)
                    if pos < now:
                        hits.append((pos, ("catch", c.number, self._catch_text(c, ex)), cpu))
                # step over the instruction (or trap) by itself, then look where it arrived
                if kind == "catch" and _is_interrupt(ev["ex"]):
                    self._deliver_caught(ev["ex"])
                else:
                    self._step1(catches=False)
                if self.position <= hi:
                    c = t.core.cpus[t.acted if self.multi else 0]
                    if c.pc in settings[0] and not self.idle_step:
                        judge({"pc": c.pc, "pos": self.position}, t.acted if self.multi else 0)
        except Stopped:
            pass
        return hits

    def _land(self, pos: int | None, what: str) -> Stop:
        if pos is None:
            self.goto(min(self.cp.states), replay=True)
            self._resync_watch()
            return self._done(Stop("history-start", "No more reverse-execution history."))
        self.goto_position(pos)
        self._resync_watch()
        return self._done(Stop("step", what))

    def _resync_watch(self) -> None:
        for w in self.watchpoints.values():
            w.old = self.t.read_virt(w.address, w.length)

    def _backwards(self, search) -> Stop:
        """Run a backward search; a pause (Ctrl-C, DAP `pause`) returns to where it
        started, so an interrupted reverse command leaves the machine as it was."""
        self.pause_requested = False
        self.t.interrupt = False
        start = self.position
        try:
            return search()
        except _Paused:
            self.goto_position(start)
            return self._done(Stop("pause", "paused"))

    # --- going back over calls at the core's speed ----------------------------------------
    def _scan_back_to(self, addrs: set, cond, now):
        """The last position before `now` where the selected CPU arrives at one of
        `addrs` with `cond()` true (asked while it stands there), found by replaying
        windows at the core's speed, newest first; None when the history holds none."""
        first = (min(self.cp.states), 0)
        me = self.thread

        def search(lo, hi):
            last = None
            if (lo, 0) == first and self.pc in addrs and cond():
                last = self.position          # the history's first position
            try:
                while self.running and self.position < hi:
                    ev, self.phase = self.t.run_fast(0, self.phase, pcs=addrs, until=hi)
                    if ev is None:
                        break
                    if ev["pos"] < now and (not self.multi or ev["cpu"] == me) and cond():
                        last = ev["pos"]
            except Stopped:
                pass
            return last
        return self._back_in_windows(now, search)

    def _my_turn(self, pos):
        """From `pos` (where the selected CPU arrived somewhere) to the first position
        where it takes the next slot: where its reverse steps land (several CPUs)."""
        self.goto_position(pos)
        me = self.thread
        try:
            while self.multi and self.t.next_actor() != me and self.running:
                self._step1(catches=False)
        except Stopped:
            pass
        return self.position

    def _previous(self, now):
        """(position, its instruction) of the selected CPU's slot just before `now`, the
        machine left there; None when it cannot be had cheaply (a trap delivered at
        `now`, a wfi that slept)."""
        if self.multi:
            last = {}

            def visit(seg):
                if not seg:
                    return None
                last["pre"] = seg[-1]
                return seg[-1]["pos"]
            self._scan_back(visit, now, mine=True)
            pre = last.get("pre")
            if pre is None:
                return None
            self.goto_position(pre["pos"])
            return pre["pos"], pre["insn"] if pre["op"] is not None else None
        return self._previous_slot(now)

    def _previous_slot(self, now):
        """(position, its instruction) of the machine's slot just before `now` (position
        now-1, then whatever trap deliveries lie between it and now), the machine left
        there; None when `now` is not reached so (a trap delivered at `now`, a wfi that
        slept, the start of history)."""
        if now[1] or now <= (min(self.cp.states), 0):
            return None
        self.goto(now[0] - 1)
        last = None
        try:
            while self.icount == now[0] - 1 and self.running:
                last = (self.position, self.insn_at(self.pc))
                self._step1(catches=False)
        except Stopped:
            return None
        if last is None or self.position != now:
            return None
        self.goto_position(last[0])
        return last

    def _call_returned_from(self, now):
        """If the instruction before `now` was a `ret` back to just after a call, the
        position of that call (found at the core's speed: the last time the CPU stood
        at the call with the stack pointer it has now). None otherwise."""
        pc, sp = self.pc, self.t.regs[SP]
        prev = self._previous(now)
        if prev is None or prev[1] is None or prev[1].instr.opcode != OP_RET:
            self.goto_position(now)
            return None
        self.goto_position(now)
        site = self._call_before(pc)
        if site is None:
            return None
        pos = self._scan_back_to({site}, lambda: self.t.regs[SP] == sp, prev[0])
        return None if pos is None else self._my_turn(pos)

    def _call_before(self, pc: int) -> int | None:
        """The address of a call instruction that ends where `pc` begins, or None."""
        for op in (OP_CALL_I, OP_CALL_R):
            at = (pc - LENGTHS[op]) & M32
            d = self.insn_at(at)
            if d is not None and d.instr.opcode == op:
                return at
        return None

    def _entering_call(self, now):
        """The position of the call that entered the current function, found at the
        core's speed: the innermost word above sp that is a return address names the
        call site and the stack pointer it ran with; the last time the CPU stood there
        so is the call, if its frame is still open at `now` (checked by replaying to
        `now` with that word watched). None when that cannot be settled."""
        sp = self.t.regs[SP]
        calls = self._call_sites()
        for k in range(64):
            slot = (sp + 4 * k) & M32
            v = self.read_word(slot)
            if v is None:
                return None
            if v not in calls:
                continue
            site = (v - calls[v]) & M32
            pos = self._scan_back_to({site}, lambda: self.t.regs[SP] == slot + 4, now)
            if pos is not None and self._frame_open(pos, slot, now):
                return self._my_turn(pos)
            self.goto_position(now)
            return None
        return None

    def _frame_open(self, pos, slot: int, now) -> bool:
        """Whether the call at `pos` (its return address at `slot`) is not returned from
        before `now`: no `ret` of the selected CPU reads the slot with sp at it on the way."""
        self.goto_position(pos)
        me = self.thread
        try:
            while self.position < now:
                ev, self.phase = self.t.run_fast(0, self.phase,
                                                 watches=[(slot, 4, WATCH_READ)], until=now)
                if ev is None:
                    return True
                d = self.insn_at(self.pc)
                if ((not self.multi or ev["cpu"] == me) and d is not None
                        and d.instr.opcode == OP_RET and self.t.regs[SP] == slot):
                    return False
                self._step1(catches=False)
        except Stopped:
            return False
        return True

    def reverse_stepi(self, n: int = 1) -> Stop:
        stop = Stop("step", "")
        for _ in range(n):
            stop = self._reverse_stepi1()
            if stop.reason != "step":
                break
        return stop

    def _reverse_stepi1(self) -> Stop:
        return self._backwards(self._reverse_stepi1_impl)

    def _reverse_stepi1_impl(self) -> Stop:
        now = self.position
        first = min(self.cp.states)
        if now <= (first, 0):
            return self._land(None, "")
        if now[1]:
            return self._land((now[0], now[1] - 1), "")
        prev = self._previous_slot(now)
        if prev is not None:
            return self._land(prev[0], "")
        # A wfi that slept skipped counts: find the position before by replaying.
        return self._land(self._scan_back(lambda seg: seg[-1]["pos"] if seg else None,
                                          now, light=True), "")

    def reverse_nexti(self, n: int = 1) -> Stop:
        """Back one instruction, a call being one instruction."""
        stop = None
        for _ in range(n):
            stop = self._reverse_over_one()
            if stop.reason != "step":
                break
        return stop

    def _reverse_over_one(self) -> Stop:
        return self._backwards(self._reverse_over_one_impl)

    def _reverse_over_one_impl(self) -> Stop:
        now = self.position
        call = self._call_returned_from(now)
        if call is not None:
            return self._land(call, "")
        depth_now = [0]

        def visit(seg):
            # Depth relative to the end of the segment: walk it backwards.
            d = depth_now[0]
            for pre in reversed(seg):
                if pre["op"] == OP_RET:
                    d += 1
                elif pre["op"] in (OP_CALL_I, OP_CALL_R):
                    d -= 1
                if d <= 0:
                    return pre["pos"]
            depth_now[0] = d
            return None
        return self._land(self._scan_back(visit, now, mine=True), "")

    def reverse_step(self, over: bool = False) -> Stop:
        return self._backwards(lambda: self._reverse_step_impl(over))

    def _reverse_step_impl(self, over: bool = False) -> Stop:
        """Back to the start of the previous source line (calls count as one line with
        `over`, reverse-next)."""
        now = self.position
        cur = self.line_key(self.pc)
        if over:
            # Back over a call that just returned: its line, if the call begins it.
            call_at = self._call_before(self.pc)
            row = self.image.line_at(call_at) if call_at is not None else None
            if (row is not None and row.address == call_at
                    and self.line_key(call_at) != cur):
                call = self._call_returned_from(now)
                if call is not None:
                    return self._land(call, "")
            self.goto_position(now)
        state = {"d": 0, "line": None, "cand": None}

        def visit(seg):
            d = state["d"]
            for pre in reversed(seg):
                if pre["op"] == OP_RET:
                    d += 1
                elif pre["op"] in (OP_CALL_I, OP_CALL_R):
                    d -= 1
                if over and d > 0:
                    continue
                key = pre["key"]
                if state["line"] is None:
                    if key is not None and key != cur:
                        state["line"] = key
                        state["cand"] = pre["pos"]
                        if over:
                            d = min(d, 0)
                    continue
                if key == state["line"]:
                    state["cand"] = pre["pos"]
                else:
                    return state["cand"]
            state["d"] = d
            return None
        pos = self._scan_back(visit, now, mine=True)
        if pos is None and state["cand"] is not None:
            pos = state["cand"]
        return self._land(pos, "")

    def reverse_finish(self) -> Stop:
        return self._backwards(self._reverse_finish_impl)

    def _reverse_finish_impl(self) -> Stop:
        """Back to the call that entered the current function."""
        now = self.position
        call = self._entering_call(now)
        if call is not None:
            return self._land(call, "")
        self.goto_position(now)
        state = {"d": 0}

        def visit(seg):
            d = state["d"]
            for pre in reversed(seg):
                if pre["op"] == OP_RET:
                    d += 1
                elif pre["op"] in (OP_CALL_I, OP_CALL_R):
                    d -= 1
                    if d < 0:
                        return pre["pos"]
            state["d"] = d
            return None
        return self._land(self._scan_back(visit, now, mine=True), "")

    def reverse_continue(self) -> Stop:
        return self._backwards(self._reverse_continue_impl)

    def _reverse_continue_impl(self) -> Stop:
        """Back to the last position where a breakpoint, watchpoint or catchpoint would
        have stopped a forward run, or to the start of the recorded history."""
        now = self.position
        found = {}

        def visit(seg):
            # the stop a forward run makes last: the latest landing position, and of two
            # at one position the later in the run (a catch after the arrival)
            best = None
            for i, pre in enumerate(seg):
                hit = pre["hit"]
                if hit is not None:
                    land = hit[3] if len(hit) > 3 else pre["pos"]
                    if land < now and (best is None or (land, i) > best[0]):
                        best = ((land, i), hit, pre.get("cpu"))
            if best is None:
                return None
            found["hit"], found["cpu"] = best[1], best[2]
            return best[0][0]
        settings = self._core_settings()
        if settings is not None and not any(settings):
            return self._land(None, "")
        if settings is not None:
            pos = self._scan_back_fast(settings, now, found)
        else:
            pos = None
            if now[1] and not self.multi:
                # just after a trap was taken: a catchpoint on it stops right before
                pre = self._pre_step()
                pre["pos"] = now
                hit = self._hit_at(pre, False)
                if hit is not None and len(hit) > 3:
                    found["hit"], found["cpu"], pos = hit, self.thread, hit[3]
            if pos is None:
                pos = self._scan_back(visit, now, probe=lambda pre: self._hit_at(pre, False),
                                      arrivals=True)
        if pos is None:
            return self._land(None, "")
        self.goto_position(pos)
        if self.multi and found.get("cpu") is not None:
            self.t.thread = found["cpu"]       # the CPU that would have stopped there
        self._resync_watch()
        kind, number, text = found["hit"][:3]
        obj = self.breakpoints.get(number) or self.watchpoints.get(number) or self.catches.get(number)
        if obj is not None:
            obj.hits += 1
        if kind == "breakpoint" and number in self.breakpoints and self.breakpoints[number].temporary:
            del self.breakpoints[number]
        return self._done(Stop(kind, text, number))

    def _hit_at(self, pre: dict, breakpoints: bool = True):
        """Would a forward run have stopped at this position (the machine stands there)?
        Breakpoints: pc is at one and its condition holds. Watchpoints: going backwards,
        as gdb does, the stop is before the instruction that reads or writes the watched
        bytes. Catchpoints: before a `sys`."""
        pc = pre["pc"]
        for b in self.breakpoints.values() if breakpoints else ():
            if b.enabled and b.address == pc and pre["pos"] > (0, 0):
                if b.condition:
                    try:
                        if not self.evaluate(b.condition):
                            continue
                    except DebugError:
                        pass
                kind = "Temporary breakpoint" if b.temporary else "Breakpoint"
                return ("breakpoint", b.number, f"{kind} {b.number}, {self.symbolize(pc)}")
        if "reads" not in pre:
            return None
        for w in self.watchpoints.values():
            if not w.enabled:
                continue
            r = any(_overlap(a, n, w.address, w.length) for a, n in pre["reads"])
            wr = any(_overlap(a, n, w.address, w.length) for a, n in pre["writes"])
            if wr and w.kind == "watch" and len(pre.get("values", ())) == len(pre["writes"]):
                # `watch` stops where the value changes: a write of what is there is none
                wr = any(self._changes(a, v, w) for (a, _), v in zip(pre["writes"],
                                                                    pre["values"]))
            if (w.kind == "rwatch" and r) or (w.kind in ("watch", "awatch") and wr) or (
                    w.kind == "awatch" and r):
                return ("watchpoint", w.number, f"Watchpoint {w.number}: {w.expr} "
                        f"(the instruction at {self.symbolize(pc)} touches it)")
        for c in self.catches.values():
            if c.enabled and c.kind in ("trap", "syscall") and pre["op"] == OP_SYS:
                n = pre["insn"].fields["imm"]
                if (c.kind == "syscall" and (c.values is None or n in c.values)) or (
                        c.kind == "trap" and (c.values is None or 1 in c.values)):
                    return ("catch", c.number, f"Catchpoint {c.number} (syscall {n})")
        pos = pre["pos"]
        if pos[1] > 0:
            # A fault or interrupt was just delivered: a forward run with a catchpoint on
            # its cause would have stopped just before, at the previous position.
            cause = self.t.cr_view()[3]
            for c in self.catches.values():
                if c.enabled and c.kind == "trap" and (c.values is None or cause in c.values):
                    what = CAUSE_TEXT.get(cause, f"cause {cause}")
                    return ("catch", c.number, f"Catchpoint {c.number} (trap: {what})",
                            (pos[0], pos[1] - 1))
        return None

    def _changes(self, a: int, value: bytes, w) -> bool:
        """Whether writing `value` at `a` changes a byte watched by `w`."""
        for i, b in enumerate(value):
            x = (a + i) & M32
            if w.address <= x < w.address + w.length:
                old = self.t.read_virt(x, 1)
                if old is None or old[0] != b:
                    return True
        return False

    # --- after every stop ---------------------------------------------------------------
    def _done(self, stop: Stop) -> Stop:
        if stop.reason == "step" and not stop.text:
            stop.text = ""
        self.last_stop = stop
        return stop

    # --- views --------------------------------------------------------------------------
    def registers(self) -> list[tuple[str, int]]:
        regs = self.t.regs
        out = [(f"r{i}" if i != SP else "sp", regs[i]) for i in range(16)]
        out.append(("pc", self.pc))
        return out

    def control_registers(self) -> list[tuple[str, int, int | None]]:
        """(name, value the program sees, real value under the hypervisor or None)."""
        view = self.t.cr_view()
        real = self.t.real_cr() if self.hv else None
        rows = []
        for i, n in enumerate(CR_NAMES):
            if n in ("icount", "cpuid"):
                continue                 # computed, not stored: shown below
            try:
                rows.append((n, view[i], real[i] if real is not None else None))
            except IndexError:
                pass
        rows.append(("cpuid", self.thread, None))
        # icount is the CPU's own clock (control register 8), not the machine's slots
        own = self.t.core.cpus[self.thread].icount if self.multi else self.icount
        rows.append(("icount", own, None))
        return rows

    def tlb(self) -> list[tuple[int, int, int, int]]:
        core = self.t.core
        tlb = core.cpus[self.thread].tlb if self.multi else core.tlb
        return [(i, *e) for i, e in enumerate(tlb) if e]

    def pagetable(self, va: int) -> dict:
        out = {"guest": self.t.walk(va & M32)}
        if self.hv:
            out["nested" if self.t.paging == "nested" else "shadow"] = self.t.real_walk(va & M32)
        return out

    def frames(self) -> list[tuple[int, str, int | None]]:
        """A backtrace, innermost first: (pc, where, the frame's return-address slot).
        Frame 0 is the pc. The callers come from the shadow call stack when the run so
        far is short enough to replay (`shadow_stack`), which also shows the traps that
        led here (a system call from user mode, an interrupt); otherwise from a scan of
        the stack for words that are return addresses."""
        out = [(self.pc, self.symbolize(self.pc), None)]
        shadow = self.shadow_stack()
        if shadow is not None:
            for kind, site, slot, what in reversed(shadow):
                where = self.symbolize(site)
                if kind == "trap":
                    where += f" [{what}]"
                out.append((site, where, slot))
            return out[:64]
        sp = self.t.regs[SP]
        calls = self._call_sites()
        for k in range(256):
            a = sp + 4 * k
            if a + 4 > 1 << 32:
                break
            v = self.read_word(a)
            if v is None:
                break
            if v in calls:
                out.append(((v - calls[v]) & M32, self.symbolize((v - calls[v]) & M32), a))
            if len(out) >= 32:
                break
        return out

    def shadow_stack(self):
        """The calls and traps still open at this position, outermost first, as
        (kind 'call' | 'trap', site pc, return slot or None, text): found by replaying
        the run from its start one instruction at a time, pushing at each `call`, trap
        delivery and `sys`/`brk`, popping at `ret` (to the frame whose slot it reads)
        and `iret`. None when the run is longer than SHADOW_LIMIT instructions. With
        several CPUs each CPU has its own, fed by the slots it takes; this is the
        selected CPU's."""
        pos = self.position
        known = self._shadow_known
        me = self.thread
        if pos in known:
            return list(known[pos].get(me, []))
        # Replay from the nearest position whose stack is known (the start at worst).
        start = max((k for k in known if k <= pos), default=None)
        if start is None or pos[0] - start[0] > SHADOW_LIMIT:
            return None
        t = self.t
        multi = self.multi
        stacks = {c: list(v) for c, v in known[start].items() if c != "parked"}
        parked = {k: list(v) for k, v in known[start].get("parked", {}).items()}
        self.goto_position(start)
        injected = sum(t.vm.stats.injected.values()) if self.hv else 0
        try:
            while self.position < pos and self.running:
                # With several CPUs, one stack per CPU: each step is the next CPU's.
                cpu = t.next_actor() if multi else me
                t.thread = cpu
                stack = stacks.setdefault(cpu, [])
                pc, sp = t.pc, t.regs[SP]
                d = self.insn_at(pc)
                op = d.instr.opcode if d else None
                mode = "user" if not t.cr_view()[0] & 1 else "kernel"
                before = self.icount
                self._step1(catches=False)
                if multi and t.acted != cpu:
                    continue                      # not foreseen: leave the stacks alone
                if self.icount == before:
                    cause = t.cr_view()[3]
                    stack.append(("trap", pc, None, f"{CAUSE_TEXT.get(cause, cause)}, "
                                  f"{mode} mode"))
                    if self.hv:               # an injection seen as a delivery: counted
                        injected = sum(t.vm.stats.injected.values())
                    continue
                if op in (OP_CALL_I, OP_CALL_R):
                    stack.append(("call", pc, (sp - 4) & M32, ""))
                elif op == OP_RET:
                    for i in range(len(stack) - 1, -1, -1):
                        if stack[i][0] == "call" and stack[i][2] == sp:
                            del stack[i:]
                            break
                elif op == OP_IRET:
                    for i in range(len(stack) - 1, -1, -1):
                        if stack[i][0] == "trap":
                            del stack[i:]
                            break
                elif op in (OP_SYS, OP_BRK):
                    what = (f"syscall {d.fields['imm']}" if op == OP_SYS else "brk")
                    stack.append(("trap", pc, None, f"{what}, {mode} mode"))
                elif op not in (OP_PUSH, OP_POP) and t.regs[SP] != sp:
                    stack = self._switch_stack(stacks, cpu, parked, sp, t.regs[SP])
                if self.hv:
                    now_inj = sum(t.vm.stats.injected.values())
                    if now_inj != injected:
                        injected = now_inj
                        cause = t.cr_view()[3]
                        stack.append(("trap", t.cr_view()[2], None,
                                      f"{CAUSE_TEXT.get(cause, cause)}, injected"))
                if len(stack) > 4096:
                    del stack[:1024]          # runaway recursion: keep the innermost
        except Stopped:
            pass
        finally:
            t.thread = me
        self.goto_position(pos)
        if len(known) > 256:
            for k in sorted(known)[1:129]:
                del known[k]
        known[pos] = {c: list(v) for c, v in stacks.items()}
        known[pos]["parked"] = {k: list(v) for k, v in parked.items()}
        return list(stacks.get(me, []))

    @staticmethod
    def _switch_stack(stacks: dict, cpu: int, parked: dict, old: int, new: int) -> list:
        """sp moved other than by push, pop, call or ret: a kernel switching stacks. The
        stack left is parked under the sp it had. Right after a trap (nothing called
        since) the new stack carries the frames on: the kernel moving to its own stack to
        handle it. Otherwise a stack whose sp comes back (a task switched back to, a
        trap's user stack before `iret`) takes up its parked frames again, and a new one
        starts empty (a task that starts). Small moves (locals,
        `sub sp, sp, N`) are no switch."""
        stack = stacks[cpu]
        if new not in parked and abs(new - old) < SWITCH_JUMP:
            return stack
        parked[old] = stack
        if len(parked) > 1024:
            del parked[next(iter(parked))]
        if stack and stack[-1][0] == "trap":
            parked.pop(new, None)
            stacks[cpu] = list(stack)
        elif new in parked:
            stacks[cpu] = parked.pop(new)
        else:
            stacks[cpu] = []
        return stacks[cpu]

    def _call_sites(self) -> dict[int, int]:
        cache = getattr(self, "_calls", None)
        if cache is None:
            cache = {}
            for r in self.image.lines:
                for a, data in self.image.segments:
                    if a <= r.address < a + len(data):
                        off = r.address - a
                        if data[off] in (OP_CALL_I, OP_CALL_R):
                            n = LENGTHS[data[off]]
                            cache[r.address + n] = n
            self._calls = cache
        return cache

    def memory(self, va: int, n: int) -> bytes | None:
        return self.t.read_virt(va & M32, n)

    def exits(self) -> dict:
        return dict(self.t.exits)

    def close(self) -> None:
        self.t.close()


_DECODED: dict = {}


def _is_interrupt(ex) -> bool:
    from vcpu.isa import Exit
    return ex.reason == Exit.TRAP and ex.cause >= 16


def _overlap(a: int, n: int, b: int, m: int) -> bool:
    return a < b + m and b < a + n


def _same_file(stored: str, given: str) -> bool:
    if stored == given:
        return True
    try:
        if os.path.realpath(stored) == os.path.realpath(given):
            return True
    except OSError:
        pass
    return os.path.basename(stored) == given
