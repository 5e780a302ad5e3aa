"""`hv dap`: the Debug Adapter Protocol over the debugger engine, for VS Code, nvim-dap and
any other DAP client.

Framing is the protocol's: `Content-Length: N\\r\\n\\r\\n` then N bytes of JSON, over stdio or
one TCP connection. Requests are answered in order on the reader thread; the ones that run
the machine (continue, next, stepIn, stepOut, stepBack, reverseContinue, goto) answer at
once and run on a worker thread, which sends a `stopped` (or `exited` + `terminated`)
event when the machine stops. While it runs, `pause`, `threads`, `terminate` and
`disconnect` are served; anything else gets an error response. Every malformed,
unknown or out-of-order request gets an error response, never a crash.

Threads are CPUs (thread id = CPU number + 1). Source breakpoints resolve through the
image's line table; instruction breakpoints take addresses (`instructionReference`, as the
disassembly view sends them); data breakpoints are watchpoints on memory; exception
breakpoints are catchpoints on traps, by cause.
"""
from __future__ import annotations

import base64
import io
import json
import os
import socket
import sys
import threading
import traceback

from vcpu.isa import CAUSE_TEXT

from .engine import DebugError, Debugger, Stop

EXCEPTION_FILTERS = [
    {"filter": "syscall", "label": "System calls (sys)", "default": False, "causes": [1]},
    {"filter": "breakpoint", "label": "brk", "default": False, "causes": [2]},
    {"filter": "faults", "label": "Faults (privileged, illegal, page fault, divide)",
     "default": False, "causes": [3, 4, 5, 6, 7, 8]},
    {"filter": "pagefault", "label": "Page faults", "default": False, "causes": [5, 6, 7]},
    {"filter": "interrupts", "label": "Interrupts (timer, device, IPI)", "default": False,
     "causes": [16, 17, 18]},
    {"filter": "exit", "label": "Hypervisor exits (--hv)", "default": False, "causes": []},
]

CAPABILITIES = {
    "supportsConfigurationDoneRequest": True,
    "supportsStepBack": True,
    "supportsInstructionBreakpoints": True,
    "supportsDataBreakpoints": True,
    "supportsDisassembleRequest": True,
    "supportsReadMemoryRequest": True,
    "supportsSteppingGranularity": True,
    "supportsConditionalBreakpoints": True,
    "supportsEvaluateForHovers": True,
    "supportsTerminateRequest": True,
    "supportsGotoTargetsRequest": False,
    "supportsRestartRequest": False,
    "exceptionBreakpointFilters": [{k: v for k, v in f.items() if k != "causes"}
                                   for f in EXCEPTION_FILTERS],
}

STOP_REASONS = {"breakpoint": "breakpoint", "watchpoint": "data breakpoint",
                "catch": "exception", "step": "step", "entry": "entry", "pause": "pause",
                "goto": "goto", "history-start": "step"}


class ProtocolError(Exception):
    pass


class RequestError(Exception):
    """A request that cannot be served: an error response with this message."""


def read_message(stream) -> dict | None:
    """One framed message, or None at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            if length is None:
                continue
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ProtocolError(f"bad Content-Length {value.strip()!r}") from None
    body = stream.read(length)
    if len(body) < length:
        return None
    try:
        msg = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"message is not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("message is not a JSON object")
    return msg


class Adapter:
    def __init__(self, rfile, wfile, log=None):
        self.rfile = rfile
        self.wfile = wfile
        self.log = log
        self.seq = 1
        self.wlock = threading.Lock()
        self.d: Debugger | None = None
        self.repl = None
        self.launched = False
        self.configured = False
        self.stop_on_entry = False
        self.worker: threading.Thread | None = None
        self.source_bps: dict[str, list[int]] = {}     # path -> engine breakpoint numbers
        self.insn_bps: list[int] = []
        self.data_bps: list[int] = []
        self.catch_ids: list[int] = []
        self.done = False
        self._out = bytearray()
        self.busy = False
        self.exited_sent = False

    # --- output ------------------------------------------------------------------------
    def send(self, msg: dict) -> None:
        with self.wlock:
            msg["seq"] = self.seq
            self.seq += 1
            body = json.dumps(msg).encode()
            self.wfile.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.wfile.flush()

    def event(self, name: str, body: dict | None = None) -> None:
        msg = {"type": "event", "event": name}
        if body is not None:
            msg["body"] = body
        self.send(msg)

    def respond(self, req: dict, body: dict | None = None, error: str | None = None) -> None:
        msg = {"type": "response", "request_seq": req.get("seq", 0),
               "command": str(req.get("command", "")), "success": error is None}
        if error is not None:
            msg["message"] = error
            msg["body"] = {"error": {"id": 1, "format": error.replace("{", "(").replace("}", ")"),
                                     "showUser": False}}
        elif body is not None:
            msg["body"] = body
        self.send(msg)

    def _console(self, data: bytes) -> None:
        # The guest writes a byte at a time: one output event per line (or 4 KiB), and
        # whatever is left before the next stop.
        self._out += data
        if b"\n" in data or len(self._out) >= 4096:
            self._flush_output()

    def _flush_output(self) -> None:
        if self._out:
            text = bytes(self._out).decode("utf-8", "replace")
            self._out.clear()
            self.event("output", {"category": "stdout", "output": text})

    # --- the loop ------------------------------------------------------------------------
    def serve(self) -> int:
        while not self.done:
            try:
                msg = read_message(self.rfile)
            except ProtocolError as e:
                self.event("output", {"category": "stderr", "output": f"hv dap: {e}\n"})
                continue
            if msg is None:
                break
            self.handle(msg)
        self._stop_worker()
        return 0

    def handle(self, msg: dict) -> None:
        if msg.get("type") != "request" or not isinstance(msg.get("command"), str):
            self.respond(msg, error="not a request (type 'request' with a 'command' expected)")
            return
        cmd = msg["command"]
        args = msg.get("arguments", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            self.respond(msg, error=f"{cmd}: 'arguments' must be an object")
            return
        fn = getattr(self, "req_" + cmd, None)
        if fn is None:
            self.respond(msg, error=f"unsupported request '{cmd}'")
            return
        if self.running() and cmd not in ("pause", "threads", "terminate", "disconnect"):
            self.respond(msg, error=f"{cmd}: the machine is running (pause it first)")
            return
        if cmd not in ("initialize", "launch", "disconnect", "terminate", "threads") and (
                self.d is None):
            self.respond(msg, error=f"{cmd}: no program launched yet")
            return
        try:
            body = fn(args, msg)
        except RequestError as e:
            self.respond(msg, error=str(e))
            return
        except (DebugError, ValueError, KeyError, TypeError) as e:
            self.respond(msg, error=f"{cmd}: {e}")
            return
        except Exception as e:   # an adapter bug: report it, keep serving
            if self.log:
                traceback.print_exc(file=self.log)
            self.respond(msg, error=f"{cmd}: internal error: {type(e).__name__}: {e}")
            return
        if body is not False:
            self.respond(msg, body)

    def running(self) -> bool:
        return self.busy

    # --- lifecycle -------------------------------------------------------------------------
    def req_initialize(self, args, msg):
        # `initialized` (ready for breakpoints) follows the launch: breakpoints need the
        # program's line table.
        return dict(CAPABILITIES)

    def req_launch(self, args, msg):
        if self.d is not None:
            raise RequestError("launch: a program is already launched")
        program = args.get("program")
        if not isinstance(program, str) or not program:
            raise RequestError("launch: 'program' (a path to an image or .s source) is required")
        core = args.get("core", "c")
        if core not in ("c", "py"):
            raise RequestError("launch: 'core' is 'c' or 'py'")
        cpus = args.get("cpus", 1)
        if not isinstance(cpus, int) or not 1 <= cpus <= 16:
            raise RequestError("launch: 'cpus' is a number from 1 to 16")
        quantum = args.get("quantum")
        if quantum is not None and (not isinstance(quantum, int) or quantum < 1):
            raise RequestError("launch: 'quantum' is a number of slots, at least 1")
        text = args.get("input", "")
        if not isinstance(text, str):
            raise RequestError("launch: 'input' is a string")
        virt, paging = args.get("virt", "trap"), args.get("paging", "shadow")
        if virt not in ("trap", "hw") or paging not in ("shadow", "nested") or (
                paging == "nested" and virt != "hw"):
            raise RequestError("launch: 'virt' is 'trap' or 'hw', 'paging' is 'shadow' or "
                               "'nested' (nested needs 'virt': 'hw')")
        from asm.errors import AsmError
        from asm.loader import load_program
        from vcpu.image import ImageError
        try:
            image = load_program(program)
        except AsmError as e:
            raise RequestError(f"launch: {str(e).splitlines()[0]}") from None
        except (ImageError, OSError) as e:
            raise RequestError(f"launch: {program}: {getattr(e, 'strerror', None) or e}") from None
        try:
            self.d = Debugger(image, hv=bool(args.get("hypervisor", False)), core=core,
                              cpus=cpus, input=text.encode(), output=self._console,
                              program=program, quantum=quantum, virt=virt, paging=paging)
        except (ValueError, DebugError) as e:
            raise RequestError(f"launch: {e}") from None
        self.stop_on_entry = bool(args.get("stopOnEntry", False))
        self.launched = True
        self.respond(msg, {})
        self.event("initialized")
        return False

    def req_configurationDone(self, args, msg):
        if not self.launched:
            raise RequestError("configurationDone: launch first")
        self.respond(msg, {})
        self.configured = True
        if self.stop_on_entry:
            self.event("stopped", {"reason": "entry", "threadId": 1, "allThreadsStopped": True})
        else:
            self._run(self.d.cont)
        return False

    def req_disconnect(self, args, msg):
        self._stop_worker()
        self.respond(msg, {})
        self.done = True
        return False

    def req_terminate(self, args, msg):
        self._stop_worker()
        self.respond(msg, {})
        if not self.exited_sent:
            self.exited_sent = True
            self.event("terminated")
        return False

    def _stop_worker(self) -> None:
        if self.worker is not None and self.worker.is_alive():
            self.d.pause()
            self.worker.join()

    # --- breakpoints ---------------------------------------------------------------------
    def req_setBreakpoints(self, args, msg):
        src = args.get("source")
        if not isinstance(src, dict) or not (src.get("path") or src.get("name")):
            raise RequestError("setBreakpoints: 'source' with a 'path' is required")
        path = src.get("path") or src.get("name")
        wanted = args.get("breakpoints")
        if wanted is None:
            wanted = [{"line": n} for n in args.get("lines", [])]
        if not isinstance(wanted, list):
            raise RequestError("setBreakpoints: 'breakpoints' must be a list")
        d = self.d
        for n in self.source_bps.pop(path, []):
            d.breakpoints.pop(n, None)
        out, numbers = [], []
        for bp in wanted:
            if not isinstance(bp, dict) or not isinstance(bp.get("line"), int):
                out.append({"verified": False, "message": "a breakpoint needs a line"})
                continue
            cond = bp.get("condition") or None
            try:
                made = d.add_breakpoint(f"{path}:{bp['line']}", cond)
            except DebugError as e:
                out.append({"verified": False, "line": bp["line"], "message": str(e)})
                continue
            b = made[0]
            numbers += [m.number for m in made]
            src_loc = d.source(b.address)
            out.append({"id": b.number, "verified": True,
                        "line": src_loc[1] if src_loc else bp["line"],
                        "instructionReference": f"0x{b.address:08x}",
                        "source": self._source(src_loc[0]) if src_loc else src})
        self.source_bps[path] = numbers
        return {"breakpoints": out}

    def req_setInstructionBreakpoints(self, args, msg):
        wanted = args.get("breakpoints")
        if not isinstance(wanted, list):
            raise RequestError("setInstructionBreakpoints: 'breakpoints' must be a list")
        d = self.d
        for n in self.insn_bps:
            d.breakpoints.pop(n, None)
        self.insn_bps = []
        out = []
        for bp in wanted:
            ref = bp.get("instructionReference") if isinstance(bp, dict) else None
            try:
                addr = int(str(ref), 0) + int(bp.get("offset", 0))
                (b,) = d.add_breakpoint(f"*{addr}", bp.get("condition") or None)
            except (ValueError, TypeError, DebugError) as e:
                out.append({"verified": False, "message": f"bad instructionReference: {e}"})
                continue
            self.insn_bps.append(b.number)
            out.append({"id": b.number, "verified": True,
                        "instructionReference": f"0x{b.address:08x}"})
        return {"breakpoints": out}

    def req_dataBreakpointInfo(self, args, msg):
        name = args.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("dataBreakpointInfo: 'name' is required")
        d = self.d
        if args.get("variablesReference") in (1, 2, 3):
            return {"dataId": None, "description": "registers cannot be watched",
                    "accessTypes": []}
        try:
            sym = d.symbols.get(name)
            addr = sym.value if sym else d.evaluate(name)
        except DebugError as e:
            return {"dataId": None, "description": str(e)}
        size = min(sym.size, 4) if sym and sym.size else 4
        return {"dataId": f"0x{addr:x},{size}", "description": f"{name} ({size} bytes at 0x{addr:08x})",
                "accessTypes": ["read", "write", "readWrite"], "canPersist": True}

    def req_setDataBreakpoints(self, args, msg):
        wanted = args.get("breakpoints")
        if not isinstance(wanted, list):
            raise RequestError("setDataBreakpoints: 'breakpoints' must be a list")
        d = self.d
        for n in self.data_bps:
            d.watchpoints.pop(n, None)
        self.data_bps = []
        out = []
        kinds = {"write": "watch", "read": "rwatch", "readWrite": "awatch", None: "watch"}
        for bp in wanted:
            if not isinstance(bp, dict) or not isinstance(bp.get("dataId"), str):
                out.append({"verified": False, "message": "a data breakpoint needs a dataId"})
                continue
            kind = kinds.get(bp.get("accessType"))
            if kind is None:
                out.append({"verified": False, "message": "accessType: read, write or readWrite"})
                continue
            try:
                w = d.add_watchpoint(bp["dataId"], kind)
            except DebugError as e:
                out.append({"verified": False, "message": str(e)})
                continue
            self.data_bps.append(w.number)
            out.append({"id": w.number, "verified": True})
        return {"breakpoints": out}

    def req_setExceptionBreakpoints(self, args, msg):
        filters = args.get("filters")
        if not isinstance(filters, list):
            raise RequestError("setExceptionBreakpoints: 'filters' must be a list")
        d = self.d
        for n in self.catch_ids:
            d.catches.pop(n, None)
        self.catch_ids = []
        known = {f["filter"]: f for f in EXCEPTION_FILTERS}
        out = []
        causes = set()
        exits = False
        for f in filters:
            if f not in known:
                out.append({"verified": False, "message": f"no exception filter '{f}'"})
                continue
            if f == "exit":
                if not d.hv:
                    out.append({"verified": False, "message": "hypervisor exits exist under "
                                "'hypervisor': true only"})
                    continue
                exits = True
            causes |= set(known[f]["causes"])
            out.append({"verified": True})
        if causes:
            self.catch_ids.append(d.add_catch("trap", sorted(causes)).number)
        if exits:
            self.catch_ids.append(d.add_catch("exit").number)
        return {"breakpoints": out}

    # --- state -------------------------------------------------------------------------------
    def req_threads(self, args, msg):
        n = self.d.t.ncpus if self.d else 1
        return {"threads": [{"id": i + 1, "name": f"cpu {i}"} for i in range(n)]}

    def _source(self, path: str) -> dict:
        full = os.path.abspath(path) if not os.path.isabs(path) else path
        return {"name": os.path.basename(path), "path": full}

    def _thread(self, args) -> int:
        tid = args.get("threadId", 1)
        if not isinstance(tid, int) or not 1 <= tid <= self.d.t.ncpus:
            raise RequestError(f"no thread {tid} (threads are CPUs 1..{self.d.t.ncpus})")
        return tid

    def req_stackTrace(self, args, msg):
        self.d.thread = self._thread(args) - 1
        d = self.d
        frames = []
        for i, (pc, where, _) in enumerate(d.frames()):
            src = d.source(pc)
            f = {"id": i + 1, "name": where, "line": src[1] if src else 0,
                 "column": src[2] if src else 0, "instructionPointerReference": f"0x{pc:08x}"}
            if src:
                f["source"] = self._source(src[0])
            else:
                f["presentationHint"] = "subtle"
            frames.append(f)
        start = args.get("startFrame", 0) or 0
        levels = args.get("levels", 0) or len(frames)
        return {"stackFrames": frames[start:start + levels], "totalFrames": len(frames)}

    def req_scopes(self, args, msg):
        if not isinstance(args.get("frameId"), int):
            raise RequestError("scopes: 'frameId' is required")
        scopes = [{"name": "Registers", "variablesReference": 1, "expensive": False},
                  {"name": "Control registers (guest, virtual)" if self.d.hv else
                   "Control registers", "variablesReference": 2, "expensive": False}]
        if self.d.hv:
            scopes.append({"name": "Control registers (real CPU)", "variablesReference": 3,
                           "expensive": False})
        return {"scopes": scopes}

    def req_variables(self, args, msg):
        ref = args.get("variablesReference")
        d = self.d
        if ref == 1:
            rows = [(n, v) for n, v in d.registers()]
        elif ref == 2:
            rows = [(n, v) for n, v, _ in d.control_registers()]
        elif ref == 3 and d.hv:
            rows = [(n, r) for n, _, r in d.control_registers() if r is not None]
        else:
            raise RequestError(f"variables: no variablesReference {ref}")
        return {"variables": [{"name": n, "value": f"0x{v:08x}", "type": "u32",
                               "variablesReference": 0, "memoryReference": f"0x{v:08x}",
                               "evaluateName": n} for n, v in rows]}

    def req_readMemory(self, args, msg):
        try:
            addr = int(str(args["memoryReference"]), 0) + int(args.get("offset", 0))
            count = int(args["count"])
        except (KeyError, ValueError, TypeError):
            raise RequestError("readMemory: 'memoryReference' and 'count' are required") from None
        if count < 0 or count > 1 << 20:
            raise RequestError("readMemory: count is 0 to 1 MiB")
        addr &= 0xFFFF_FFFF
        data = bytearray()
        unreadable = 0
        for i in range(count):
            b = self.d.memory(addr + i, 1)
            if b is None:
                unreadable = count - i
                break
            data += b
        body = {"address": f"0x{addr:08x}", "data": base64.b64encode(bytes(data)).decode()}
        if unreadable:
            body["unreadableBytes"] = unreadable
        return body

    def req_disassemble(self, args, msg):
        from asm.disasm import format_instruction
        try:
            base = int(str(args["memoryReference"]), 0) + int(args.get("offset", 0))
            count = int(args["instructionCount"])
        except (KeyError, ValueError, TypeError):
            raise RequestError("disassemble: 'memoryReference' and 'instructionCount' "
                               "are required") from None
        if count < 0 or count > 10000:
            raise RequestError("disassemble: instructionCount is 0 to 10000")
        first = int(args.get("instructionOffset", 0))
        d = self.d
        labels = {s.value: s.name for s in d.image.symbols if s.kind != 2}
        # Instruction starts: walking forwards from base is exact; backwards, use the
        # line table's row addresses (each row starts an instruction or data).
        starts = []
        a = base & 0xFFFF_FFFF
        if first < 0:
            rows = sorted({r.address for r in d.image.lines if r.address < a})
            back = rows[first:] if len(rows) >= -first else rows
            pad = -first - len(back)
            starts = [None] * pad + back
            first = 0
        for _ in range(first):
            di = d.insn_at(a)
            a = (a + (di.instr.length if di else 1)) & 0xFFFF_FFFF
        while len(starts) < count:
            starts.append(a)
            di = d.insn_at(a)
            a = (a + (di.instr.length if di else 1)) & 0xFFFF_FFFF
        out = []
        for a in starts[:count]:
            if a is None:
                out.append({"address": "0x00000000", "instruction": "??",
                            "presentationHint": "invalid"})
                continue
            di = d.insn_at(a)
            raw = d.memory(a, di.instr.length if di else 1)
            ins = {"address": f"0x{a:08x}",
                   "instruction": format_instruction(di, labels) if di else (
                       f".byte 0x{raw[0]:02x}" if raw else "??"),
                   "instructionBytes": raw.hex(" ") if raw else ""}
            if a in labels:
                ins["symbol"] = labels[a]
            src = d.source(a)
            if src:
                ins["location"] = self._source(src[0])
                ins["line"] = src[1]
                ins["column"] = src[2]
            if raw is None:
                ins["presentationHint"] = "invalid"
            out.append(ins)
        return {"instructions": out}

    def req_evaluate(self, args, msg):
        expr = args.get("expression")
        if not isinstance(expr, str) or not expr.strip():
            raise RequestError("evaluate: 'expression' is required")
        d = self.d
        if args.get("context") == "repl" and self._is_command(expr):
            return {"result": self._command(expr), "variablesReference": 0}
        try:
            v = d.evaluate(expr)
        except DebugError as e:
            raise RequestError(str(e)) from None
        signed = v - (1 << 32) if v & 0x8000_0000 else v
        return {"result": f"0x{v:08x} ({signed})", "type": "u32", "variablesReference": 0,
                "memoryReference": f"0x{v:08x}"}

    def _is_command(self, text: str) -> bool:
        from .repl import ALIASES, Repl
        word = text.split()[0]
        return (word.startswith("x/") or word in ALIASES
                or word in Repl.commands()) and word not in ("r", "run", "quit", "q")

    def _command(self, text: str) -> str:
        from .repl import Repl
        buf = io.StringIO()
        repl = Repl(self.d, out=buf, interactive=False)
        try:
            repl.dispatch(text.strip())
        except DebugError as e:
            buf.write(str(e) + "\n")
        return buf.getvalue().rstrip("\n")

    # --- running ---------------------------------------------------------------------------
    def _run(self, fn, *a) -> None:
        d = self.d
        if not d.running and fn in (d.cont, d.step, d.stepi, d.nexti, d.finish):
            self._report(Stop("exited", d.t.stop_reason or ""))
            return

        def work():
            try:
                stop = fn(*a)
            except (DebugError, ValueError) as e:
                self.event("output", {"category": "stderr", "output": f"{e}\n"})
                stop = Stop("step", str(e))
            except Exception as e:
                if self.log:
                    traceback.print_exc(file=self.log)
                self.event("output", {"category": "stderr",
                                      "output": f"internal error: {type(e).__name__}: {e}\n"})
                stop = Stop("pause", "internal error")
            self.busy = False           # before the event: the client may ask at once
            self._report(stop)
        self.busy = True
        self.worker = threading.Thread(target=work, daemon=True)
        self.worker.start()

    def _report(self, stop: Stop) -> None:
        self._flush_output()
        if stop.reason == "exited":
            if not self.exited_sent:
                self.exited_sent = True
                status = stop.data.get("status", 0) if stop.data else 0
                self.event("output", {"category": "console",
                                      "output": f"[machine stopped: {stop.text}]\n"})
                self.event("exited", {"exitCode": int(status) & 0xFF})
                self.event("terminated")
            return
        body = {"reason": STOP_REASONS.get(stop.reason, "step"),
                "threadId": self.d.thread + 1, "allThreadsStopped": True}
        if stop.text:
            body["description"] = stop.text.splitlines()[0]
            body["text"] = stop.text
        if stop.number is not None and stop.reason in ("breakpoint", "watchpoint"):
            body["hitBreakpointIds"] = [stop.number]
            if stop.number in self.insn_bps:
                body["reason"] = "instruction breakpoint"
        if stop.reason == "history-start":
            body["description"] = "start of the recorded history"
        self.event("stopped", body)

    def _granular(self, args) -> str:
        g = args.get("granularity", "statement")
        if g not in ("statement", "line", "instruction"):
            raise RequestError("granularity is statement, line or instruction")
        return g

    def req_continue(self, args, msg):
        self._thread(args)
        self.respond(msg, {"allThreadsContinued": True})
        self._run(self.d.cont)
        return False

    def req_next(self, args, msg):
        self.d.thread = self._thread(args) - 1     # the thread the client steps
        g = self._granular(args)
        self.respond(msg, {})
        self._run(self.d.nexti) if g == "instruction" else self._run(self.d.step, 1, True)
        return False

    def req_stepIn(self, args, msg):
        self.d.thread = self._thread(args) - 1     # the thread the client steps
        g = self._granular(args)
        self.respond(msg, {})
        self._run(self.d.stepi) if g == "instruction" else self._run(self.d.step, 1, False)
        return False

    def req_stepOut(self, args, msg):
        self.d.thread = self._thread(args) - 1     # the thread the client steps
        self.respond(msg, {})
        self._run(self.d.finish)
        return False

    def req_stepBack(self, args, msg):
        self.d.thread = self._thread(args) - 1     # the thread the client steps
        g = self._granular(args)
        self.respond(msg, {})
        if g == "instruction":
            self._run(self.d.reverse_stepi)
        else:
            self._run(self.d.reverse_step, True)
        return False

    def req_reverseContinue(self, args, msg):
        self._thread(args)
        self.respond(msg, {})
        self._run(self.d.reverse_continue)
        return False

    def req_pause(self, args, msg):
        if self.running():
            self.d.pause()
            return {}
        self.respond(msg, {})
        self.event("stopped", {"reason": "pause", "threadId": 1, "allThreadsStopped": True})
        return False


def serve_stdio() -> int:
    # The protocol owns stdout: nothing else may write there.
    rfile = sys.stdin.buffer
    wfile = sys.stdout.buffer
    sys.stdout = sys.stderr
    return Adapter(rfile, wfile, log=sys.stderr).serve()


def serve_tcp(host: str, port: int, ready=None) -> int:
    with socket.create_server((host, port)) as srv:
        if ready:
            ready(srv.getsockname()[1])
        conn, _ = srv.accept()
        with conn:
            f = conn.makefile("rwb")
            return Adapter(f, f, log=sys.stderr).serve()
