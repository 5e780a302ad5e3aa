"""`hv debug`: a command line with gdb's names and habits over the debugger engine.

History (readline, kept in ~/.hv_debug_history), tab completion of commands and symbols,
Enter repeats the last command, `help` and `help COMMAND`. Commands also come from a pipe
(`hv debug prog.s < script`), one per line, which is how the tests drive it.
"""
from __future__ import annotations

import os
import signal
import sys

from vcpu.isa import CAUSE_TEXT

from .engine import DebugError, Debugger, Stop
from .expr import M32

CAUSES = {"syscall": 1, "breakpoint": 2, "privileged": 3, "illegal": 4, "read": 5,
          "write": 6, "fetch": 7, "pagefault": (5, 6, 7), "divide": 8, "timer": 16,
          "device": 17, "ipi": 18}

ALIASES = {"b": "break", "c": "continue", "s": "step", "n": "next", "si": "stepi",
           "ni": "nexti", "r": "run", "bt": "backtrace", "where": "backtrace", "p": "print",
           "q": "quit", "i": "info", "u": "until", "d": "delete", "disas": "disassemble",
           "rc": "reverse-continue", "rs": "reverse-step", "rn": "reverse-next",
           "rsi": "reverse-stepi", "rni": "reverse-nexti", "l": "list", "fin": "finish",
           "exit": "quit"}

HELP = {
    "break": "break LOCATION [if COND]  -- stop when pc reaches LOCATION: FILE:LINE, LINE, "
             "SYMBOL or *ADDRESS",
    "tbreak": "tbreak LOCATION [if COND]  -- a breakpoint that is deleted when hit",
    "condition": "condition N [COND]  -- set or clear breakpoint N's condition",
    "delete": "delete [N...]  -- delete breakpoints, watchpoints, catchpoints (all without N)",
    "watch": "watch ADDR[,LEN]  -- stop when the bytes change (SYMBOL: its size, else a word)",
    "rwatch": "rwatch ADDR[,LEN]  -- stop after an instruction reads them",
    "awatch": "awatch ADDR[,LEN]  -- stop after an instruction reads or writes them",
    "catch": "catch trap [CAUSE...] | catch syscall [N...] | catch exit  -- stop before a "
             "trap (causes by number or name: syscall, pagefault, timer, ...), a system "
             "call, or (--hv) any hypervisor exit",
    "run": "run  -- start again from the entry point and continue",
    "continue": "continue [N]  -- run until something stops the machine (N: ignore the "
                "current breakpoint N-1 more times)",
    "step": "step [N]  -- to the next source line, into calls",
    "next": "next [N]  -- to the next source line, over calls",
    "stepi": "stepi [N]  -- one instruction (a trap's delivery is a step of its own)",
    "nexti": "nexti [N]  -- one instruction, a call counting as one",
    "finish": "finish  -- until the current function returns",
    "until": "until [LOCATION]  -- next, but not back into a loop; or run to LOCATION",
    "reverse-stepi": "reverse-stepi [N]  -- back one instruction",
    "reverse-nexti": "reverse-nexti [N]  -- back one instruction, a call counting as one",
    "reverse-step": "reverse-step  -- back to the start of the previous source line",
    "reverse-next": "reverse-next  -- reverse-step, calls counting as one line",
    "reverse-continue": "reverse-continue  -- back to the last place a breakpoint, "
                        "watchpoint or catchpoint would have stopped",
    "reverse-finish": "reverse-finish  -- back to the call of the current function",
    "goto": "goto ICOUNT  -- to the machine as it was (or will be) after ICOUNT instructions",
    "info": "info registers|breakpoints|tlb|pagetable VA|exits|threads|line [LOC]|"
            "checkpoints|display  -- show machine state",
    "x": "x/NFU ADDR  -- examine memory: N units, format x d u c s i, unit b h w",
    "print": "print[/x|/d|/c] EXPR  -- evaluate: registers, control registers, symbols, "
             "*ADDR, [ADDR], C operators",
    "display": "display EXPR  -- print EXPR at every stop (undisplay N removes it)",
    "undisplay": "undisplay [N...]  -- remove displays",
    "disassemble": "disassemble [LOCATION]  -- the function around pc (or LOCATION)",
    "backtrace": "backtrace  -- the call stack",
    "list": "list [LOCATION]  -- source lines around pc or LOCATION",
    "thread": "thread [N]  -- select CPU N (threads are CPUs, numbered from 1)",
    "help": "help [COMMAND]",
    "quit": "quit",
}


class Repl:
    def __init__(self, dbg: Debugger, out=None, interactive: bool | None = None):
        self.d = dbg
        self.w = out or sys.stdout
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.last = ""
        self.done = False

    def say(self, text: str = "") -> None:
        self.w.write(text + "\n")
        self.w.flush()

    # --- the loop --------------------------------------------------------------------------
    def loop(self, lines=None) -> int:
        if self.interactive and lines is None:
            self._readline()
        self._banner()
        src = iter(lines) if lines is not None else None
        while not self.done:
            try:
                if src is not None:
                    line = next(src)
                elif self.interactive:
                    line = input("(hv) ")
                else:
                    line = sys.stdin.readline()
                    if not line:
                        break
            except StopIteration:
                break
            except EOFError:
                self.say()
                break
            except KeyboardInterrupt:
                self.say("^C")
                continue
            self.one(line.rstrip("\n"))
        return 0

    def one(self, line: str) -> None:
        line = line.strip()
        if not line:
            if not self.interactive or not self.last:
                return
            line = self.last        # Enter repeats (as in gdb), except after a pipe
        elif line.startswith("#"):
            return
        self.last = line
        try:
            self.dispatch(line)
        except DebugError as e:
            self.say(str(e))
        except ValueError as e:
            self.say(f"bad argument: {e}")
        except KeyboardInterrupt:
            self.say("Interrupted.")
        except Exception as e:          # a debugger bug: say so, keep the session
            self.say(f"internal error: {type(e).__name__}: {e}")

    def dispatch(self, line: str) -> None:
        if line.startswith("x/") or line == "x" or line.startswith("x "):
            return self.cmd_x(line[1:])
        for pfx in ("print/", "p/"):
            if line.startswith(pfx):
                fmt, _, rest = line[len(pfx):].partition(" ")
                return self.cmd_print(rest, fmt)
        word, _, arg = line.partition(" ")
        name = ALIASES.get(word, word)
        fn = getattr(self, "cmd_" + name.replace("-", "_"), None)
        if fn is None:
            cands = [c for c in self.commands() if c.startswith(word)]
            if len(cands) == 1:
                fn = getattr(self, "cmd_" + cands[0].replace("-", "_"))
            else:
                hint = f" (did you mean {', '.join(cands[:5])}?)" if cands else ""
                raise DebugError(f'Undefined command: "{word}"{hint}. Try "help".')
        fn(arg.strip())

    @staticmethod
    def commands() -> list[str]:
        return sorted(n[4:].replace("_", "-") for n in dir(Repl) if n.startswith("cmd_"))

    def _banner(self) -> None:
        d = self.d
        mode = "under the hypervisor" if d.hv else "on the bare machine"
        self.say(f"hv debug: {d.program or 'program'} {mode}, {d.t.core_kind} core; "
                 f"stopped at the entry point. Type \"help\" for commands.")
        self.show_location()

    def _readline(self) -> None:
        try:
            import readline
        except ImportError:
            return
        hist = os.path.expanduser("~/.hv_debug_history")
        try:
            readline.read_history_file(hist)
        except OSError:
            pass
        import atexit
        atexit.register(lambda: _save_history(readline, hist))
        readline.set_completer_delims(" \t\n*,")
        readline.set_completer(self.complete)
        readline.parse_and_bind("tab: complete")

    def complete(self, text: str, state: int):
        """readline's completer: commands, then symbols and register names."""
        words = getattr(self, "_words", None)
        if words is None:
            regs = [f"r{i}" for i in range(16)] + ["sp", "pc"]
            words = self._words = sorted(set(self.commands()) | set(ALIASES)) + sorted(
                set(self.d.symbols) | set(regs))
        opts = [w for w in words if w.startswith(text)]
        return opts[state] if state < len(opts) else None

    # --- showing where we are ---------------------------------------------------------------
    def show_location(self) -> None:
        d = self.d
        pc = d.pc
        src = d.source(pc)
        head = f"0x{pc:08x} in {d.where(pc)}"
        if src:
            head += f" at {os.path.basename(src[0])}:{src[1]}"
        clock = "slot" if d.multi else "icount"
        head += f"  [{clock} {d.icount}" + (f"+{d.phase}" if d.phase else "") + "]"
        self.say(head)
        if src:
            text = self._sources().text(src[0], src[1])
            if text is not None:
                self.say(f"{src[1]}\t{text}")
        else:
            self.say(f"=> {self._insn_text(pc)}")

    def _sources(self):
        if not hasattr(self, "_src"):
            from asm.disasm import SourceLines
            base = [os.path.dirname(self.d.program)] if self.d.program else []
            self._src = SourceLines(base)
        return self._src

    def _insn_text(self, addr: int) -> str:
        from asm.disasm import format_instruction
        di = self.d.insn_at(addr)
        if di is None:
            b = self.d.memory(addr, 1)
            return f".byte 0x{b[0]:02x}" if b else "(unmapped)"
        labels = {v: n for n, v in ((s.name, s.value) for s in self.d.image.symbols
                                    if s.kind != 2)}
        return format_instruction(di, labels)

    def report(self, stop: Stop) -> None:
        d = self.d
        if stop.reason == "exited":
            self.say(f"[machine stopped: {stop.text}]")
            return
        if d.multi and stop.reason in ("breakpoint", "catch"):
            self.say(f"[Thread {d.thread + 1} (cpu {d.thread})]")
        if stop.text:
            self.say(stop.text)
        self.show_location()
        for n, expr in self.d.displays.items():
            try:
                self.say(f"{n}: {expr} = {d.evaluate(expr)}")
            except DebugError as e:
                self.say(f"{n}: {expr} = <{e}>")

    def _count(self, arg: str, default: int = 1) -> int:
        if not arg:
            return default
        n = self.d.evaluate(arg)
        if n < 1 or n >= 0x8000_0000:
            raise DebugError("a count is at least 1")
        return n

    # --- breakpoints -----------------------------------------------------------------------
    def cmd_break(self, arg: str, temporary: bool = False) -> None:
        spec, cond = _split_if(arg)
        if not spec:
            spec = f"*0x{self.d.pc:x}"
        for b in self.d.add_breakpoint(spec, cond, temporary):
            src = self.d.source(b.address)
            at = f" at {os.path.basename(src[0])}:{src[1]}" if src else ""
            kind = "Temporary breakpoint" if temporary else "Breakpoint"
            self.say(f"{kind} {b.number} at 0x{b.address:08x}: {self.d.where(b.address)}{at}")

    def cmd_tbreak(self, arg: str) -> None:
        self.cmd_break(arg, temporary=True)

    def cmd_condition(self, arg: str) -> None:
        num, _, cond = arg.partition(" ")
        b = self.d.breakpoints.get(int(num)) if num.isdigit() else None
        if b is None:
            raise DebugError(f"No breakpoint number {num}.")
        if cond.strip():
            self.d.evaluate(cond)
        b.condition = cond.strip() or None

    def cmd_delete(self, arg: str) -> None:
        nums = arg.replace("breakpoints", "").split()
        if nums and not all(n.isdigit() for n in nums):
            raise DebugError("delete takes breakpoint numbers")
        self.d.delete([int(n) for n in nums] if nums else None)

    def _watch(self, arg: str, kind: str) -> None:
        if not arg:
            raise DebugError(f"{kind} takes an address or symbol (ADDR[,LEN])")
        w = self.d.add_watchpoint(arg, kind)
        label = {"watch": "Hardware watchpoint", "rwatch": "Hardware read watchpoint",
                 "awatch": "Hardware access (read/write) watchpoint"}[kind]
        self.say(f"{label} {w.number}: {w.expr} (0x{w.address:08x}, {w.length} bytes)")

    def cmd_watch(self, arg):
        self._watch(arg, "watch")

    def cmd_rwatch(self, arg):
        self._watch(arg, "rwatch")

    def cmd_awatch(self, arg):
        self._watch(arg, "awatch")

    def cmd_catch(self, arg: str) -> None:
        kind, *rest = arg.split() or [""]
        if kind not in ("trap", "syscall", "exit"):
            raise DebugError("catch trap [CAUSE...] | catch syscall [N...] | catch exit")
        values = []
        for r in rest:
            if kind == "trap" and r.lower() in CAUSES:
                v = CAUSES[r.lower()]
                values += list(v) if isinstance(v, tuple) else [v]
            else:
                values.append(self.d.evaluate(r))
        c = self.d.add_catch(kind, values or None)
        what = {"trap": "trap", "syscall": "syscall", "exit": "hypervisor exit"}[kind]
        which = (" " + ", ".join(CAUSE_TEXT.get(v, str(v)) if kind == "trap" else str(v)
                                 for v in values)) if values else ""
        self.say(f"Catchpoint {c.number} ({what}{which})")

    # --- running ---------------------------------------------------------------------------
    def _go(self, fn, *a) -> None:
        if not self.d.running and fn not in (self.d.reverse_stepi, self.d.reverse_nexti,
                                             self.d.reverse_step, self.d.reverse_continue,
                                             self.d.reverse_finish):
            self.say(f"The program is not being run ({self.d.t.stop_reason}); "
                     f"use reverse commands, goto or run.")
            return
        old = signal.getsignal(signal.SIGINT)

        def pause(*_):
            self.d.pause()
        try:
            signal.signal(signal.SIGINT, pause)
        except ValueError:          # not the main thread
            old = None
        try:
            stop = fn(*a)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        self.report(stop)

    def cmd_run(self, arg: str) -> None:
        self.d.goto(0)
        self._go(self.d.cont)

    def cmd_continue(self, arg: str) -> None:
        if arg:
            n = self._count(arg)
            st = self.d.last_stop
            if st and st.reason == "breakpoint" and st.number in self.d.breakpoints:
                self.d.breakpoints[st.number].ignore = n - 1
                self.say(f"Will ignore next {n - 1} crossings of breakpoint {st.number}.")
        self._go(self.d.cont)

    def cmd_step(self, arg):
        self._go(self.d.step, self._count(arg))

    def cmd_next(self, arg):
        self._go(self.d.step, self._count(arg), True)

    def cmd_stepi(self, arg):
        self._go(self.d.stepi, self._count(arg))

    def cmd_nexti(self, arg):
        self._go(self.d.nexti, self._count(arg))

    def cmd_finish(self, arg):
        self._go(self.d.finish)

    def cmd_until(self, arg):
        self._go(self.d.until, arg or None)

    def cmd_advance(self, arg):
        if not arg:
            raise DebugError("advance takes a location")
        self._go(self.d.until, arg)

    def cmd_reverse_stepi(self, arg):
        self._go(self.d.reverse_stepi, self._count(arg))

    def cmd_reverse_nexti(self, arg):
        self._go(self.d.reverse_nexti, self._count(arg))

    def cmd_reverse_step(self, arg):
        for _ in range(self._count(arg)):
            self._go(self.d.reverse_step)

    def cmd_reverse_next(self, arg):
        for _ in range(self._count(arg)):
            self._go(self.d.reverse_step, True)

    def cmd_reverse_continue(self, arg):
        self._go(self.d.reverse_continue)

    def cmd_reverse_finish(self, arg):
        self._go(self.d.reverse_finish)

    def cmd_goto(self, arg):
        if not arg:
            raise DebugError("goto takes an instruction count")
        n = self.d.evaluate(arg)
        if n >= 0x8000_0000:
            raise DebugError("goto takes an instruction count >= 0")
        self.d.goto(n)
        if self.d.icount < n:
            self.say(f"[machine stopped at instruction {self.d.icount}, before {n}: "
                     f"{self.d.t.stop_reason}]")
        self.report(Stop("goto"))

    # --- looking -----------------------------------------------------------------------------
    def cmd_info(self, arg: str) -> None:
        what, _, rest = arg.partition(" ")
        table = {"registers": self.info_registers, "r": self.info_registers,
                 "all-registers": self.info_registers,
                 "breakpoints": self.info_breakpoints, "b": self.info_breakpoints,
                 "watchpoints": self.info_breakpoints, "tlb": self.info_tlb,
                 "pagetable": self.info_pagetable, "exits": self.info_exits,
                 "threads": self.info_threads, "line": self.info_line,
                 "checkpoints": self.info_checkpoints, "display": self.info_display,
                 "symbol": self.info_symbol}
        fn = table.get(what) or next((f for k, f in table.items() if what and k.startswith(what)), None)
        if fn is None:
            raise DebugError("info registers|breakpoints|tlb|pagetable VA|exits|threads|"
                             "line|checkpoints|display|symbol ADDR")
        fn(rest.strip())

    def info_registers(self, arg: str) -> None:
        d = self.d
        names = [r for r in arg.split()] or None
        for name, v in d.registers():
            if names is None or name in names:
                self.say(f"{name:<10}0x{v:08x}  {v if v < 0x8000_0000 else v - (1 << 32)}")
        if d.hv:
            if names is None:
                self.say(f"{'':10}{'guest (virtual)':>12}  {'real':>12}")
            for name, v, real in d.control_registers():
                if names is None or name in names:
                    r = f"0x{real:08x}" if real is not None else ""
                    self.say(f"{name:<10}0x{v:08x}    {r}")
        else:
            for name, v, _ in d.control_registers():
                if names is None or name in names:
                    self.say(f"{name:<10}0x{v:08x}  {_status_text(v) if name == 'status' else v}")

    def info_breakpoints(self, arg: str) -> None:
        d = self.d
        rows = []
        for b in d.breakpoints.values():
            kind = "breakpoint"
            extra = f"\tstop only if {b.condition}" if b.condition else ""
            rows.append(f"{b.number:<4}{kind:<15}{'del' if b.temporary else 'keep':<5}"
                        f"0x{b.address:08x} in {b.where}  (hit {b.hits}){extra}")
        for w in d.watchpoints.values():
            rows.append(f"{w.number:<4}{w.kind + 'point':<15}keep {w.expr} "
                        f"(0x{w.address:08x}, {w.length} bytes)  (hit {w.hits})")
        for c in d.catches.values():
            vals = ", ".join(str(v) for v in sorted(c.values)) if c.values else "any"
            rows.append(f"{c.number:<4}{'catchpoint':<15}keep {c.kind} {vals}  (hit {c.hits})")
        if not rows:
            self.say("No breakpoints or watchpoints.")
            return
        self.say(f"{'Num':<4}{'Type':<15}{'Disp':<5}What")
        for r in sorted(rows, key=lambda r: int(r.split()[0])):
            self.say(r)

    def info_tlb(self, arg: str) -> None:
        rows = self.d.tlb()
        label = ("TLB" if not self.d.hv else
                 "real TLB (guest-virtual to host-physical, walked through the host's table)"
                 if self.d.t.paging == "nested" else
                 "real TLB (the shadow tables' translations)")
        self.say(f"{label}: {len(rows)} of 64 entries valid")
        for slot, vpn, frame, rights in rows:
            self.say(f"  [{slot:2}] va 0x{vpn << 12:08x} -> pa 0x{frame:08x}  "
                     f"{_rights(rights | 1)}")

    def info_pagetable(self, arg: str) -> None:
        if not arg:
            raise DebugError("info pagetable VA")
        va = self.d.evaluate(arg)
        walks = self.d.pagetable(va)
        g = walks["guest"]
        head = "guest tables" if self.d.hv else "page tables"
        if not g["paging"]:
            self.say(f"paging is off: va 0x{va:08x} is physical address 0x{va:08x}")
        else:
            self._walk(head, g, "physical" if not self.d.hv else "guest-physical")
        if "shadow" in walks:
            self._walk("shadow tables (what the real CPU walks)", walks["shadow"],
                       "host-physical")
        if "nested" in walks:
            self._walk("nested paging: the host's table of guest frames", walks["nested"],
                       "host-physical")

    def _walk(self, head: str, w: dict, space: str) -> None:
        what = "guest-physical" if w.get("what") == "gpa" else "va"
        self.say(f"{head}: {what} 0x{w['va']:08x}  (directory index {w['va'] >> 22}, "
                 f"table index {(w['va'] >> 12) & 0x3ff}, offset 0x{w['va'] & 0xfff:x})")
        if "pde" in w:
            self.say(f"  PDE @ 0x{w['pde_addr']:08x} = 0x{w['pde']:08x}  {_rights(w['pde'])}")
        if "pte" in w:
            self.say(f"  PTE @ 0x{w['pte_addr']:08x} = 0x{w['pte']:08x}  {_rights(w['pte'])}")
        if "fault" in w:
            self.say(f"  -> fault: {w['fault']}")
        else:
            self.say(f"  -> {space} 0x{w['pa']:08x}  {_rights(w['rights'])}")

    def info_exits(self, arg: str) -> None:
        ex = self.d.exits()
        if not ex:
            self.say("No exits yet.")
            return
        for k, v in sorted(ex.items(), key=lambda kv: -kv[1]):
            if k.startswith("trap:"):
                c = int(k[5:])
                k = f"trap: {CAUSE_TEXT.get(c, c)}"
            self.say(f"  {k:<36}{v}")

    def info_threads(self, arg: str) -> None:
        d = self.d
        core = d.t.core
        for cpu in range(d.t.ncpus):
            mark = "*" if cpu == d.thread else " "
            pc = core.cpus[cpu].pc if d.multi else d.pc
            src = d.source(pc)
            at = f" at {os.path.basename(src[0])}:{src[1]}" if src else ""
            self.say(f"{mark} {cpu + 1}    cpu {cpu}  0x{pc:08x} in {d.where(pc)}{at}")

    def info_line(self, arg: str) -> None:
        addr = self.d.resolve(arg)[0][0] if arg else self.d.pc
        src = self.d.source(addr)
        if not src:
            self.say(f"No line number information available for address 0x{addr:08x}")
            return
        self.say(f'Line {src[1]} of "{src[0]}" is at address 0x{addr:08x} <{self.d.where(addr)}>')

    def info_checkpoints(self, arg: str) -> None:
        cp = self.d.cp
        keys = sorted(cp.states)
        self.say(f"{len(keys)} checkpoints, {cp.bytes / 2**20:.1f} MiB of "
                 f"{cp.budget / 2**20:.0f} MiB, every {cp.interval} instructions near the present")
        self.say("  " + " ".join(str(k) for k in keys[-40:]))

    def info_display(self, arg: str) -> None:
        for n, e in self.d.displays.items():
            self.say(f"{n}:   {e}")

    def info_symbol(self, arg: str) -> None:
        a = self.d.evaluate(arg)
        self.say(f"{self.d.where(a)}")

    def cmd_print(self, arg: str, fmt: str = "") -> None:
        if not arg:
            raise DebugError("print EXPR")
        v = self.d.evaluate(arg)
        if fmt == "x":
            text = f"0x{v:x}"
        elif fmt == "c":
            text = f"{v} {chr(v & 0xff)!r}"
        elif fmt == "t":
            text = bin(v)[2:]
        elif fmt == "u":
            text = str(v)
        else:
            text = str(v if v < 0x8000_0000 or fmt == "u" else v - (1 << 32))
        self.say(f"$ = {text}")

    def cmd_output(self, arg):
        self.cmd_print(arg)

    def cmd_display(self, arg: str) -> None:
        if not arg:
            return self.info_display("")
        self.d.evaluate(arg)
        n = max(self.d.displays, default=0) + 1
        self.d.displays[n] = arg
        self.say(f"{n}: {arg} = {self.d.evaluate(arg)}")

    def cmd_undisplay(self, arg: str) -> None:
        if not arg:
            self.d.displays.clear()
            return
        for n in arg.split():
            if not n.isdigit():
                raise DebugError(f"undisplay takes display numbers, not '{n}'")
            self.d.displays.pop(int(n), None)

    def cmd_x(self, arg: str) -> None:
        spec, _, addr = arg.partition(" ")
        count, fmt, unit = 1, "x", 4
        if spec.startswith("/"):
            s = spec[1:]
            digits = ""
            while s and s[0].isdigit():
                digits, s = digits + s[0], s[1:]
            count = int(digits) if digits else 1
            for ch in s:
                if ch in "bhw":
                    unit = {"b": 1, "h": 2, "w": 4}[ch]
                elif ch in "xducsi":
                    fmt = ch
                else:
                    raise DebugError(f"x: unknown format letter '{ch}' (formats x d u c s i, "
                                     "units b h w)")
        else:
            addr = arg
        if not addr.strip():
            raise DebugError("x/NFU ADDRESS")
        a = self.d.evaluate(addr)
        if count > 4096:
            raise DebugError("x: at most 4096 units")
        if fmt == "c":
            unit = 1
        if fmt == "i":
            for _ in range(count):
                self.say(f"   0x{a:08x} <{self.d.where(a)}>:\t{self._insn_text(a)}")
                di = self.d.insn_at(a)
                a = (a + (di.instr.length if di else 1)) & M32
            return
        if fmt == "s":
            for _ in range(count):
                raw = bytearray()
                if self.d.memory(a, 1) is None:
                    raise DebugError(f"Cannot access memory at address 0x{a:x}")
                while len(raw) < 4096:
                    b = self.d.memory(a + len(raw), 1)
                    if not b or b == b"\0":
                        break
                    raw += b
                self.say(f"0x{a:08x} <{self.d.where(a)}>:\t{bytes(raw).decode('latin-1')!r}")
                a = (a + len(raw) + 1) & M32
            return
        per_line = {1: 8, 2: 8, 4: 4}[unit]
        for i in range(0, count, per_line):
            vals = []
            for j in range(i, min(count, i + per_line)):
                raw = self.d.memory(a + j * unit, unit)
                if raw is None:
                    vals.append("??")
                    continue
                v = int.from_bytes(raw, "little")
                if fmt == "x":
                    vals.append(f"0x{v:0{unit * 2}x}")
                elif fmt == "d":
                    vals.append(str(v - (1 << 8 * unit) if v >> (8 * unit - 1) else v))
                elif fmt == "u":
                    vals.append(str(v))
                else:
                    vals.append(repr(chr(v)))
            at = (a + i * unit) & M32
            self.say(f"0x{at:08x} <{self.d.where(at)}>:\t" + "\t".join(vals))

    def cmd_disassemble(self, arg: str) -> None:
        d = self.d
        if arg:
            start = d.resolve(arg)[0][0]
        else:
            start = d.pc
        # The enclosing symbol, by its size; else 16 instructions from the address.
        import bisect
        i = bisect.bisect_right(d._label_addrs, start) - 1
        end = None
        if i >= 0:
            sym = d.symbols[d._label_names[i]]
            if sym.size and start < sym.value + sym.size:
                start, end = sym.value, sym.value + sym.size
                self.say(f"Dump of assembler code for {sym.name}:")
        a, n = start, 0
        while (end is None and n < 16) or (end is not None and a < end and n < 512):
            mark = "=> " if a == d.pc else "   "
            di = d.insn_at(a)
            self.say(f"{mark}0x{a:08x} <{d.where(a)}>:\t{self._insn_text(a)}")
            a += di.instr.length if di else 1
            n += 1
        self.say("End of assembler dump.")

    def cmd_backtrace(self, arg: str) -> None:
        for i, (pc, where, _) in enumerate(self.d.frames()):
            src = self.d.source(pc)
            at = f" at {os.path.basename(src[0])}:{src[1]}" if src else ""
            self.say(f"#{i}  0x{pc:08x} in {where}{at}")

    def cmd_list(self, arg: str) -> None:
        addr = self.d.resolve(arg)[0][0] if arg else self.d.pc
        src = self.d.source(addr)
        if not src:
            raise DebugError("No line number information for that address.")
        for n in range(max(1, src[1] - 5), src[1] + 5):
            t = self._sources().text(src[0], n)
            if t is None:
                break
            self.say(f"{n}\t{t}")

    def cmd_thread(self, arg: str) -> None:
        d = self.d
        if arg:
            n = self._count(arg)
            if n > d.t.ncpus:
                raise DebugError(f"Invalid thread ID: {n} (threads are CPUs 1..{d.t.ncpus})")
            d.thread = n - 1
        self.say(f"[Current thread is {d.thread + 1} (cpu {d.thread})]")

    def cmd_help(self, arg: str) -> None:
        if arg:
            name = ALIASES.get(arg, arg)
            if name in HELP:
                self.say(HELP[name])
                return
            raise DebugError(f'Undefined command: "{arg}". Try "help".')
        self.say("Commands (gdb's names; Enter repeats the last one):")
        for k in sorted(HELP):
            self.say(f"  {HELP[k].split('  -- ')[0]:<44} {HELP[k].partition('  -- ')[2]}")
        self.say("Aliases: " + ", ".join(f"{a}={c}" for a, c in sorted(ALIASES.items())))

    def cmd_quit(self, arg: str) -> None:
        self.done = True


def _split_if(arg: str) -> tuple[str, str | None]:
    parts = arg.split(" if ", 1)
    if arg.startswith("if "):
        return "", arg[3:]
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else None)


def _rights(e: int) -> str:
    return ("P" if e & 1 else "-") + ("W" if e & 2 else "-") + ("U" if e & 4 else "-")


def _status_text(v: int) -> str:
    bits = [n for b, n in ((1, "KM"), (2, "IE"), (4, "PG"), (8, "PKM"), (16, "PIE")) if v & b]
    return "[" + " ".join(bits) + "]"


def _save_history(readline, path: str) -> None:
    try:
        readline.set_history_length(1000)
        readline.write_history_file(path)
    except OSError:
        pass

