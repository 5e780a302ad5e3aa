"""Trap-and-emulate events and where they go.

An event is one thing the hypervisor did for a guest: an `emulate`, a `reflect`, a
`shadow-fill`, an `inject`, a `schedule` decision or a guest `stop`. Each carries a
sequence number, the guest, the guest's instruction count, host time, the pc with its
symbol (`schedule+0x12`), the disassembled instruction, the cause, and what was done.

Sinks: JSON Lines (`--trace FILE.jsonl`), Chrome/Perfetto trace-event JSON
(`--trace FILE.json`), and a live coloured view on stderr (`--trace -`). With tracing off
the host holds `trace = None` and pays one truth test per exit.
"""
from __future__ import annotations

import bisect
import functools
import json
import sys
import time
from collections import Counter, deque

from vcpu.isa import CAUSE_TEXT
from vcpu.text import visible

SCHEMA = {
    "seq": "int: 0, 1, 2, … in the order events happened",
    "guest": "str: guest name",
    "icount": "int: the guest's retired-instruction count at the event",
    "t_ns": "int: host time since the trace began, in nanoseconds",
    "kind": "str: emulate | reflect | shadow-fill | inject | schedule | stop",
    "pc": "int or null: guest pc of the instruction involved",
    "sym": "str or null: pc as symbol+offset from the image's symbol table",
    "insn": "str or null: the instruction, disassembled",
    "cause": "int or null: trap cause code",
    "cause_text": "str or null: the cause in words",
    "badaddr": "int or null: faulting address (page faults)",
    "what": "str: what the hypervisor did, with the values involved",
}
KINDS = ("emulate", "reflect", "shadow-fill", "inject", "schedule", "stop", "device")
KIND_STYLE = {"emulate": "cyan", "reflect": "magenta", "shadow-fill": "blue",
              "inject": "yellow", "schedule": "dim", "stop": "bold red"}


class Symbols:
    """pc -> 'name+0xoff' from an image's code and data labels."""

    def __init__(self, image):
        syms = sorted((s.value, s.name) for s in image.symbols if s.kind in (0, 1))
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]

    def __call__(self, pc: int) -> str | None:
        i = bisect.bisect_right(self.addrs, pc) - 1
        if i < 0:
            return None
        off = pc - self.addrs[i]
        return self.names[i] + (f"+0x{off:x}" if off else "")


@functools.lru_cache(maxsize=4096)
def _disasm(insn: bytes) -> str | None:
    if not insn:
        return None
    try:
        from asm.disasm import disassemble_one
        return disassemble_one(insn, 0)
    except Exception:   # an instruction that does not decode is shown as bytes
        return insn.hex()


class Filter:
    """Keeps the events that match every given criterion."""

    def __init__(self, guests=None, kinds=None, causes=None, insns=None, pc_range=None):
        self.guests = set(guests) if guests else None
        self.kinds = set(kinds) if kinds else None
        self.causes = set(causes) if causes else None
        self.insns = set(insns) if insns else None
        self.pc_range = pc_range

    def __call__(self, e: dict) -> bool:
        if self.guests and e["guest"] not in self.guests:
            return False
        if self.kinds and e["kind"] not in self.kinds:
            return False
        if self.causes and e.get("cause") not in self.causes:
            return False
        if self.insns and (e.get("insn") or "").split(" ")[0] not in self.insns:
            return False
        if self.pc_range:
            pc = e.get("pc")
            if pc is None or not self.pc_range[0] <= pc <= self.pc_range[1]:
                return False
        return True


class Tracer:
    """Builds events and hands them to a sink; optionally keeps only the last N."""

    def __init__(self, sink, images, names, flt: Filter | None = None, last: int | None = None):
        self.sink = sink
        self.symbols = {n: Symbols(img) for n, img in zip(names, images)}
        self.filter = flt
        self.ring = deque(maxlen=last) if last else None
        self.seq = 0
        self.t0 = time.perf_counter_ns()
        self.counts: Counter = Counter()
        self.error = ""              # why tracing stopped early, if it did
        self.on_error = None         # called with that message when it happens

    def event(self, vm, kind: str, pc=None, cause=None, insn=b"", what="", badaddr=None,
              cpu=None):
        e = {"seq": self.seq, "guest": vm.name, "icount": vm.core.icount,
             "t_ns": time.perf_counter_ns() - self.t0, "kind": kind, "pc": pc,
             "sym": self.symbols[vm.name](pc) if pc is not None else None,
             "insn": _disasm(insn), "cause": cause,
             "cause_text": CAUSE_TEXT.get(cause) if cause else None,
             "badaddr": badaddr if cause in (5, 6, 7) else None, "what": what}
        if vm.core.ncpus > 1:
            # SMP guests: every event names its vCPU (the current one unless told), and
            # icount is that vCPU's clock
            e["cpu"] = vm.core.cur if cpu is None else cpu
        self.seq += 1
        if self.filter and not self.filter(e):
            return
        self.counts[(vm.name, kind)] += 1
        if self.ring is not None:
            self.ring.append(e)
        elif self.sink is not None:
            try:
                self.sink.write(e)
            except OSError as err:
                self._failed(err)

    def slice(self, vm, t_start_ns: int, t_end_ns: int, i0: int, i1: int) -> None:
        if self.sink is not None and hasattr(self.sink, "slice"):
            try:
                self.sink.slice(vm.name, t_start_ns - self.t0, t_end_ns - self.t0, i0, i1)
            except OSError as err:
                self._failed(err)

    def _failed(self, err: OSError) -> None:
        """The trace cannot be written (a full disk, a closed pipe): tracing stops with a
        warning, the guests run on. What was written stays; the file is ended if it can be."""
        where = getattr(self.sink, "path", None) or "the trace"
        self.error = f"{where}: {err.strerror or err}; tracing stopped, the guests ran on"
        sink, self.sink = self.sink, None
        try:
            sink.close()
        except OSError:
            pass
        if self.on_error:
            self.on_error(self.error)

    def close(self) -> None:
        if self.sink is None:
            return
        try:
            if self.ring is not None:
                for e in self.ring:
                    self.sink.write(e)
            self.sink.close()
        except OSError as err:
            self._failed(err)
        self.sink = None


class JsonlSink:
    def __init__(self, path: str):
        self.path = path
        self.f = open(path, "w", buffering=1 << 16)

    def write(self, e: dict) -> None:
        self.f.write(json.dumps(e) + "\n")

    def close(self) -> None:
        self.f.close()


class PerfettoSink:
    """Chrome trace-event JSON: one process per guest; run slices on thread 1, hypervisor
    events as instants on thread 2 (so slices on a track never overlap); an exits counter.

    Streamed: each event is written as it comes (through a bounded buffer), so a long trace
    costs the host no memory, and `close` ends the JSON, leaving a valid file however the
    run stopped (Ctrl-C, SIGTERM, a guest's fault)."""

    def __init__(self, path: str, names):
        self.path = path
        self.pid = {n: i + 1 for i, n in enumerate(names)}
        self.exits = Counter()
        self.tracks: set = set()
        self.f = open(path, "w", buffering=1 << 16)
        self.f.write('{"displayTimeUnit": "ns", "traceEvents": [\n')
        self.first = True
        for n, pid in self.pid.items():
            for e in ({"name": "process_name", "ph": "M", "pid": pid, "tid": 1, "ts": 0,
                       "args": {"name": f"guest {n}"}},
                      {"name": "thread_name", "ph": "M", "pid": pid, "tid": 1, "ts": 0,
                       "args": {"name": "vcpu (guest running)"}},
                      {"name": "thread_name", "ph": "M", "pid": pid, "tid": 2, "ts": 0,
                       "args": {"name": "hypervisor"}}):
                self._put(e)

    def _put(self, e: dict) -> None:
        self.f.write(("" if self.first else ",\n") + json.dumps(e))
        self.first = False

    def write(self, e: dict) -> None:
        pid = self.pid[e["guest"]]
        ts = e["t_ns"] / 1000
        name = e["kind"] + (f" {e['insn'].split(' ')[0]}" if e.get("insn") else "")
        tid = 2
        cpu = e.get("cpu")
        if cpu:
            # vCPU k > 0 of an SMP guest: a track of its own under the guest's process
            tid = 100 + cpu
            if (pid, tid) not in self.tracks:
                self.tracks.add((pid, tid))
                self._put({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "ts": 0,
                           "args": {"name": f"hypervisor, vCPU {cpu}"}})
        self._put({"name": name, "ph": "i", "s": "t", "ts": ts, "pid": pid,
                   "tid": tid, "args": {k: e[k] for k in ("seq", "icount", "sym",
                                                          "cause_text", "what")}})
        if e["kind"] != "schedule":
            self.exits[e["guest"]] += 1
            self._put({"name": "hypervisor events", "ph": "C", "ts": ts, "pid": pid,
                       "tid": 1, "args": {"events": self.exits[e["guest"]]}})

    def slice(self, name, t0, t1, i0, i1) -> None:
        self._put({"name": "run", "ph": "X", "ts": t0 / 1000,
                   "dur": max(t1 - t0, 1) / 1000, "pid": self.pid[name], "tid": 1,
                   "args": {"instructions": i1 - i0}})

    def close(self) -> None:
        if self.f.closed:
            return
        try:
            self.f.write("\n]}\n")
        finally:
            self.f.close()


WIDE = 125          # the full layout's width; narrower consoles get the compact one


def format_event(e: dict, width: int | None = None):
    """One event as a coloured line. At `width` below WIDE (an 80-column terminal) the
    compact layout drops the sequence number, shows the pc as its symbol, leaves out the
    instruction of an emulation (what it did names it) and, when the rest does not fit,
    puts it on a second line under the event kind."""
    from rich.text import Text
    if width is None or width >= WIDE:
        t = Text()
        t.append(f"{e['seq']:>6} ", style="dim")
        t.append(f"{visible(e['guest']):<10} ", style="bold")
        t.append(f"{e['icount']:>10} ", style="dim")
        t.append(f"{visible(e['kind']):<11} ", style=KIND_STYLE.get(e["kind"], ""))
        if e.get("pc") is not None:
            t.append(f"0x{e['pc']:08x} {visible(e.get('sym') or ''):<18} ", style="green")
        if e.get("insn"):
            t.append(f"{visible(e['insn']):<20} ")
        t.append(visible(e.get("what") or ""))
        return t
    t = Text()
    t.append(f"{e['icount']:>9} ", style="dim")
    t.append(f"{_fit(visible(e['guest']), 8):<8} ", style="bold")
    t.append(f"{visible(e['kind']):<11} ", style=KIND_STYLE.get(e["kind"], ""))
    where = e.get("sym") or (f"0x{e['pc']:08x}" if e.get("pc") is not None else "")
    t.append(f"{_fit(visible(where), 18):<18} ", style="green")
    what = visible(e.get("what") or "")
    if e.get("insn") and e["kind"] != "emulate":      # an emulation's `what` names it
        what = f"{visible(e['insn'])}: {what}"
    if len(t.plain) + len(what) > width:
        import textwrap
        t.rstrip()
        for line in textwrap.wrap(what, max(width - 19, 20), break_on_hyphens=False):
            t.append("\n" + " " * 19 + line)
        return t
    t.append(what)
    return t


def view_width(con) -> int | None:
    """The width to lay events out for: the terminal's (or COLUMNS), or None (the full
    layout) when the view goes to a file or a pipe, where lines are read by grep, not eyes."""
    import os
    return con.width if con.is_terminal or os.environ.get("COLUMNS") else None


def _fit(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


# What `hv trace show` needs of each line: field -> accepted types (None: may be null).
_SHOW_FIELDS = {"seq": (int,), "guest": (str,), "icount": (int,), "kind": (str,),
                "pc": (int, type(None)), "sym": (str, type(None)),
                "insn": (str, type(None)), "what": (str, type(None)),
                "cause": (int, type(None))}


def check_event(e, where: str) -> dict:
    """A line of a saved trace, checked: a clear error names the line and the field."""
    if not isinstance(e, dict):
        raise ValueError(f"{where}: not a trace event (a JSON object with seq, guest, "
                         f"icount, kind, ...), but {type(e).__name__ if e is not None else 'null'}")
    for k, types in _SHOW_FIELDS.items():
        v = e.get(k)
        if k not in e and type(None) in types:
            continue
        if k not in e:
            raise ValueError(f"{where}: trace event without {k!r} (see hv trace schema)")
        if not isinstance(v, types) or isinstance(v, bool):
            want = " or ".join("null" if t is type(None) else
                               {"int": "a whole number", "str": "text"}[t.__name__]
                               for t in types)
            raise ValueError(f"{where}: {k!r} must be {want}, not {json.dumps(v)}")
    return e


class LiveSink:
    """Events as they come, coloured, on stderr (stdout stays the guests' console)."""

    def __init__(self):
        from rich.console import Console
        self.con = Console(stderr=True, highlight=False)
        self.counts = Counter()

    def write(self, e: dict) -> None:
        self.counts[(e["guest"], e["kind"])] += 1
        self.con.print(format_event(e, view_width(self.con)), soft_wrap=True)

    def close(self) -> None:
        if self.counts:
            summary = ", ".join(f"{g}/{k}: {n}" for (g, k), n in sorted(self.counts.items()))
            self.con.print(f"[dim]events: {summary}[/]")


def open_trace(dest: str, images, names, flt=None, last=None) -> Tracer:
    if dest == "-":
        sink = LiveSink()
    elif dest.endswith(".jsonl"):
        sink = JsonlSink(dest)
    elif dest.endswith(".json"):
        sink = PerfettoSink(dest, names)
    else:
        raise ValueError(f"--trace {dest}: use FILE.jsonl, FILE.json (Perfetto) or - (live)")
    return Tracer(sink, images, names, flt, last)


def show(path: str, flt: Filter | None = None) -> int:
    """`hv trace show FILE.jsonl`: print a saved trace with the live view's colouring."""
    from rich.console import Console
    con = Console(highlight=False)
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise ValueError(f"{path}:{n}: not JSON (hv trace show reads the JSON Lines "
                                 "files of --trace FILE.jsonl)") from None
            check_event(e, f"{path}:{n}")
            if flt is None or flt(e):
                con.print(format_event(e, view_width(con)), soft_wrap=True)
    return 0


def print_schema(out=sys.stdout) -> None:
    for k, v in SCHEMA.items():
        out.write(f"{k}: {v}\n")
