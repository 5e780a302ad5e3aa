"""`hv dap`: scripted Debug Adapter Protocol sessions over stdio and TCP, every message
checked against the protocol's required fields, on both cores, bare and under the
hypervisor; malformed and out-of-order requests get error responses."""
from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.test_debugger import PROGRAM
from vcpu.cores import available_kinds

ROOT = Path(__file__).resolve().parent.parent

# Required fields (debugAdapterProtocol.json) of the messages these sessions see.
REQUIRED_BODY = {
    "setBreakpoints": {"breakpoints": ["verified"]},
    "setInstructionBreakpoints": {"breakpoints": ["verified"]},
    "setDataBreakpoints": {"breakpoints": ["verified"]},
    "stackTrace": {"stackFrames": ["id", "name", "line", "column"]},
    "scopes": {"scopes": ["name", "variablesReference", "expensive"]},
    "variables": {"variables": ["name", "value", "variablesReference"]},
    "threads": {"threads": ["id", "name"]},
    "readMemory": {"address": None},
    "disassemble": {"instructions": ["address", "instruction"]},
    "evaluate": {"result": None, "variablesReference": None},
    "dataBreakpointInfo": {"dataId": None, "description": None},
    "continue": {},
}
EVENT_BODY = {"stopped": ["reason"], "output": ["output"], "exited": ["exitCode"],
              "thread": ["reason", "threadId"]}


def check(msg: dict) -> None:
    assert isinstance(msg.get("seq"), int) and msg["type"] in ("response", "event")
    if msg["type"] == "response":
        for k in ("request_seq", "success", "command"):
            assert k in msg, (k, msg)
        if not msg["success"]:
            assert isinstance(msg.get("message"), str) and msg["message"]
            return
        need = REQUIRED_BODY.get(msg["command"])
        if need is not None:
            body = msg["body"]
            for k, fields in need.items():
                assert k in body, (k, msg)
                if fields:
                    for item in body[k]:
                        for f in fields:
                            assert f in item, (f, item, msg["command"])
    else:
        assert isinstance(msg.get("event"), str)
        for f in EVENT_BODY.get(msg["event"], []):
            assert f in msg["body"], (f, msg)


class Client:
    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile
        self.seq = 1
        self.q: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            length = None
            while True:
                line = self.rfile.readline()
                if not line:
                    self.q.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                k, _, v = line.decode().partition(":")
                if k.lower() == "content-length":
                    length = int(v)
            self.q.put(json.loads(self.rfile.read(length)))

    def raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def send(self, command, **arguments) -> int:
        msg = {"seq": self.seq, "type": "request", "command": command, "arguments": arguments}
        self.seq += 1
        body = json.dumps(msg).encode()
        self.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return msg["seq"]

    def next(self, timeout=60) -> dict:
        msg = self.q.get(timeout=timeout)
        assert msg is not None, "the adapter closed the connection"
        check(msg)
        if msg["type"] == "event":
            self.events.append(msg)
        return msg

    def request(self, command, **arguments) -> dict:
        seq = self.send(command, **arguments)
        while True:
            msg = self.next()
            if msg["type"] == "response" and msg["request_seq"] == seq:
                return msg

    def ok(self, command, **arguments) -> dict:
        r = self.request(command, **arguments)
        assert r["success"], r
        return r.get("body", {})

    def wait_event(self, name) -> dict:
        for e in self.events:
            if e["event"] == name:
                self.events.remove(e)
                return e
        while True:
            msg = self.next()
            if msg["type"] == "event" and msg["event"] == name:
                self.events.remove(msg)
                return msg


@pytest.fixture
def adapter():
    procs = []

    def start():
        p = subprocess.Popen([sys.executable, "-m", "hv", "dap"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        procs.append(p)
        return Client(p.stdout, p.stdin)
    yield start
    for p in procs:
        try:
            p.stdin.close()
        except OSError:
            pass
        p.wait(timeout=30)
        err = p.stderr.read().decode()
        assert "Traceback" not in err, err


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "prog.s"
    p.write_text(PROGRAM)
    return str(p)


def launch(c: Client, prog: str, **kw) -> dict:
    caps = c.ok("initialize", adapterID="hv", linesStartAt1=True, columnsStartAt1=True)
    c.ok("launch", program=prog, **kw)
    c.wait_event("initialized")          # after the launch: breakpoints need the program
    return caps


@pytest.mark.parametrize("core", available_kinds())
@pytest.mark.parametrize("hv", [False, True], ids=["bare", "hv"])
def test_session(adapter, prog, core, hv):
    c = adapter()
    caps = launch(c, prog, core=core, hypervisor=hv, stopOnEntry=True)
    for cap in ("supportsStepBack", "supportsConfigurationDoneRequest",
                "supportsInstructionBreakpoints", "supportsDataBreakpoints",
                "supportsDisassembleRequest", "supportsReadMemoryRequest",
                "supportsSteppingGranularity", "supportsConditionalBreakpoints",
                "supportsEvaluateForHovers"):
        assert caps[cap] is True, cap
    bps = c.ok("setBreakpoints", source={"path": prog}, breakpoints=[{"line": 24}, {"line": 999}])
    assert bps["breakpoints"][0]["verified"] and bps["breakpoints"][0]["line"] == 24
    assert not bps["breakpoints"][1]["verified"]
    c.ok("setExceptionBreakpoints", filters=[])
    c.ok("configurationDone")
    assert c.wait_event("stopped")["body"]["reason"] == "entry"
    assert c.ok("threads")["threads"] == [{"id": 1, "name": "cpu 0"}]

    c.ok("continue", threadId=1)
    stop = c.wait_event("stopped")["body"]
    assert stop["reason"] == "breakpoint" and stop["hitBreakpointIds"] == [bps["breakpoints"][0]["id"]]
    st = c.ok("stackTrace", threadId=1)
    top = st["stackFrames"][0]
    assert top["name"] == "work" and top["line"] == 24 and top["source"]["path"] == prog
    assert st["stackFrames"][1]["name"] == "loop+0x2" and st["stackFrames"][1]["line"] == 12
    scopes = c.ok("scopes", frameId=top["id"])["scopes"]
    assert len(scopes) == (3 if hv else 2)
    regs = {v["name"]: v["value"] for v in c.ok("variables", variablesReference=1)["variables"]}
    assert regs["pc"] == top["instructionPointerReference"] and regs["r1"] == "0x00000000"
    crs = {v["name"]: v["value"] for v in c.ok("variables", variablesReference=2)["variables"]}
    assert crs["status"] == "0x00000003"                 # KM | IE, as the program sees it
    if hv:
        real = {v["name"]: v["value"] for v in c.ok("variables", variablesReference=3)["variables"]}
        real_status = int(real["status"], 16)
        assert not real_status & 1 and real_status & 4   # real: user mode, paging (shadow)
    mem = c.ok("readMemory", memoryReference=top["instructionPointerReference"], count=2)
    assert mem["data"] == "UFA="                         # push r5: 50 50
    dis = c.ok("disassemble", memoryReference=top["instructionPointerReference"],
               instructionOffset=-2, instructionCount=5)["instructions"]
    assert len(dis) == 5 and dis[2]["instruction"] == "push r5" and dis[2]["symbol"] == "work"
    assert dis[2]["line"] == 24
    assert c.ok("evaluate", expression="r10 + 1", context="hover")["result"] == "0x00000001 (1)"
    assert "Registers" not in c.ok("evaluate", expression="info breakpoints", context="repl")["result"]
    assert "0x00000050 in prog.s:24" in c.ok("evaluate", expression="info breakpoints",
                                        context="repl")["result"]

    c.ok("next", threadId=1)                              # over push: line 25
    assert c.wait_event("stopped")["body"]["reason"] == "step"
    assert c.ok("stackTrace", threadId=1)["stackFrames"][0]["line"] == 25
    c.ok("stepBack", threadId=1, granularity="instruction")
    c.wait_event("stopped")
    assert c.ok("stackTrace", threadId=1)["stackFrames"][0]["line"] == 24
    c.ok("stepOut", threadId=1)
    c.wait_event("stopped")
    assert c.ok("stackTrace", threadId=1)["stackFrames"][0]["line"] == 13
    c.ok("continue", threadId=1)
    c.wait_event("stopped")
    second = c.ok("evaluate", expression="icount")["result"]
    c.ok("reverseContinue", threadId=1)
    assert c.wait_event("stopped")["body"]["reason"] == "breakpoint"
    assert c.ok("evaluate", expression="r10")["result"] == "0x00000000 (0)"
    assert c.ok("evaluate", expression="icount")["result"] != second

    # Data breakpoint on `counter`, then an exception breakpoint on the timer.
    c.ok("setBreakpoints", source={"path": prog}, breakpoints=[])
    info = c.ok("dataBreakpointInfo", name="counter")
    assert info["dataId"] and "write" in info["accessTypes"]
    c.ok("setDataBreakpoints", breakpoints=[{"dataId": info["dataId"], "accessType": "write"}])
    c.ok("continue", threadId=1)
    assert c.wait_event("stopped")["body"]["reason"] == "data breakpoint"
    assert c.ok("evaluate", expression="*counter")["result"] == "0x00000003 (3)"
    c.ok("setDataBreakpoints", breakpoints=[])
    c.ok("setExceptionBreakpoints", filters=["interrupts"])
    c.ok("continue", threadId=1)
    stop = c.wait_event("stopped")["body"]
    assert stop["reason"] == "exception" and "timer" in stop["description"]
    c.ok("setExceptionBreakpoints", filters=[])
    ib = c.ok("setInstructionBreakpoints", breakpoints=[{"instructionReference": "0x4f"}])
    assert ib["breakpoints"][0]["verified"]
    c.ok("continue", threadId=1)
    assert c.wait_event("stopped")["body"]["reason"] == "instruction breakpoint"
    c.ok("setInstructionBreakpoints", breakpoints=[])
    c.ok("continue", threadId=1)
    out = c.wait_event("output")
    while out["body"]["category"] != "stdout":
        out = c.wait_event("output")
    assert out["body"]["output"] == "A"
    assert c.wait_event("exited")["body"]["exitCode"] == 0
    c.wait_event("terminated")
    c.ok("disconnect")


def test_errors_never_crash(adapter, prog):
    c = adapter()
    assert not c.request("stackTrace", threadId=1)["success"]          # before launch
    c.raw(b"Content-Length: 5\r\n\r\n{oops")                           # not JSON
    assert c.wait_event("output")["body"]["category"] == "stderr"
    bad = c.request("frobnicate")
    assert not bad["success"] and "unsupported request" in bad["message"]
    c.ok("initialize", adapterID="hv")
    for args in ({}, {"program": str(ROOT / "nonexistent.s")}, {"program": prog, "core": "z"},
                 {"program": prog, "cpus": 0}):
        r = c.request("launch", **args)
        assert not r["success"] and r["message"].startswith("launch:"), r
    c.ok("launch", program=prog, stopOnEntry=True)
    assert not c.request("launch", program=prog)["success"]             # twice
    c.ok("configurationDone")
    c.wait_event("stopped")
    for cmd, args in (("stackTrace", {"threadId": 9}), ("variables", {"variablesReference": 77}),
                      ("readMemory", {}), ("disassemble", {"memoryReference": "zz"}),
                      ("evaluate", {"expression": "nosuch + 1"}), ("scopes", {}),
                      ("setBreakpoints", {}), ("next", {"threadId": 1, "granularity": "huge"}),
                      ("setExceptionBreakpoints", {"filters": ["exit"]})):
        r = c.request(cmd, **args)
        if cmd == "setExceptionBreakpoints":
            assert r["success"] and not r["body"]["breakpoints"][0]["verified"]
        else:
            assert not r["success"], (cmd, r)
    mem = c.ok("readMemory", memoryReference="0xfffe", count=4)
    assert mem["unreadableBytes"] == 2
    c.ok("pause", threadId=1)
    assert c.wait_event("stopped")["body"]["reason"] == "pause"
    c.ok("disconnect")


def test_pause_a_running_machine_and_tcp(tmp_path):
    loop = tmp_path / "spin.s"
    loop.write_text("spin:\n    add r1, r1, 1\n    jmp spin\n")
    p = subprocess.Popen([sys.executable, "-m", "hv", "dap", "--listen", "tcp:127.0.0.1:0"],
                         stderr=subprocess.PIPE, cwd=ROOT)
    try:
        line = p.stderr.readline().decode()
        port = int(line.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        f = s.makefile("rwb")
        c = Client(f, f)
        launch(c, str(loop))
        c.ok("setBreakpoints", source={"path": str(loop)}, breakpoints=[{"line": 3, "condition": "r1 == 0"}])
        c.ok("configurationDone")
        # The condition never holds: the machine runs until paused.
        assert not c.request("stackTrace", threadId=1)["success"]
        c.ok("pause", threadId=1)
        assert c.wait_event("stopped")["body"]["reason"] == "pause"
        assert c.ok("stackTrace", threadId=1)["stackFrames"][0]["name"].startswith("spin")
        c.ok("terminate")
        c.wait_event("terminated")
        c.ok("disconnect")
        s.close()
        assert p.wait(timeout=30) == 0
    finally:
        p.kill()


CLIENT = ROOT / "tests" / "dap_client"


@pytest.mark.parametrize("core", available_kinds())
@pytest.mark.parametrize("hv", [False, True], ids=["bare", "hv"])
def test_microsoft_debug_client(prog, core, hv):
    """The scripted session in tests/dap_client/session.js, run by Microsoft's DebugClient
    (.ci/run installs it with npm; skipped where node or the package is missing)."""
    import shutil
    node = shutil.which("node")
    if node is None or not (CLIENT / "node_modules" / "@vscode" / "debugadapter-testsupport").is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI must install tests/dap_client (npm ci) and node")
        pytest.skip("node or @vscode/debugadapter-testsupport not installed (npm ci in tests/dap_client)")
    hv_cmd = shutil.which("hv", path=os.path.dirname(sys.executable)) or shutil.which("hv")
    r = subprocess.run([node, "session.js", hv_cmd, prog, core, "1" if hv else "0"],
                       cwd=CLIENT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("ok")


def test_pause_a_long_reverse_continue(adapter, tmp_path):
    """A reverse-continue that would take long can be paused: the machine goes back to
    where it was, and says so with a stopped event (reason pause)."""
    loop = tmp_path / "long.s"
    loop.write_text("start:\n    li r2, 3000000\nspin:\n    add r1, r1, 1\n    blt r1, r2, spin\n"
                    "    halt\n")
    c = adapter()
    launch(c, str(loop), stopOnEntry=True)
    c.ok("configurationDone")
    c.wait_event("stopped")
    c.ok("continue", threadId=1)
    c.wait_event("exited")
    c.wait_event("terminated")
    c.ok("setBreakpoints", source={"path": str(loop)}, breakpoints=[{"line": 2}])
    before = c.ok("evaluate", expression="icount")["result"]
    c.ok("reverseContinue", threadId=1)
    c.ok("pause", threadId=1)
    assert c.wait_event("stopped")["body"]["reason"] == "pause"
    assert c.ok("evaluate", expression="icount")["result"] == before
    c.ok("disconnect")


def test_console_output_comes_a_line_at_a_time(adapter):
    fib = str(ROOT / "guests" / "fib.s")
    expected = (ROOT / "guests" / "expected" / "fib.out").read_text()
    c = adapter()
    launch(c, fib)
    c.ok("configurationDone")
    c.wait_event("exited")
    outs = [e["body"]["output"] for e in c.events if e["event"] == "output"
            and e["body"]["category"] == "stdout"]
    while True:
        e = c.wait_event("output") if not outs or "".join(outs) != expected else None
        if e is None:
            break
        if e["body"]["category"] == "stdout":
            outs.append(e["body"]["output"])
    assert "".join(outs) == expected
    assert len(outs) == expected.count("\n")
    c.ok("disconnect")


@pytest.mark.parametrize("hv", [False, True], ids=["bare", "hv"])
def test_threads_are_cpus(hv, adapter, tmp_path):
    from tests.test_debugger import SMP
    prog = tmp_path / "smp.s"
    prog.write_text(SMP)
    c = adapter()
    launch(c, str(prog), cpus=2, quantum=5, hypervisor=hv)
    c.ok("setBreakpoints", source={"path": str(prog)}, breakpoints=[{"line": 29}])
    c.ok("configurationDone")
    assert c.ok("threads")["threads"] == [{"id": 1, "name": "cpu 0"}, {"id": 2, "name": "cpu 1"}]
    seen = set()
    for i in range(4):
        stop = c.wait_event("stopped")["body"]
        assert stop["reason"] == "breakpoint"
        seen.add(stop["threadId"])
        top = c.ok("stackTrace", threadId=stop["threadId"])["stackFrames"][0]
        assert top["name"] == "work"
        assert c.ok("evaluate", expression="cpuid")["result"].endswith(f"({stop['threadId'] - 1})")
        if i < 3:
            c.ok("continue", threadId=1)
    assert seen == {1, 2}
    # Stepping is the thread's the client names: out of work, a line, a line back.
    c.ok("setBreakpoints", source={"path": str(prog)}, breakpoints=[])
    tid = 3 - stop["threadId"]
    c.ok("stackTrace", threadId=tid)
    for command in ("stepIn", "stepOut", "next", "stepBack"):
        c.ok(command, threadId=tid)
        ev = c.wait_event("stopped")["body"]
        assert ev["threadId"] == tid and ev["reason"] == "step", (command, ev)
        assert c.ok("evaluate", expression="cpuid")["result"].endswith(f"({tid - 1})")
    assert not c.request("stackTrace", threadId=3)["success"]
    c.ok("disconnect")


def test_launch_in_guest_mode_with_nested_paging(adapter, prog):
    """`"virt": "hw", "paging": "nested"` (an extension of the launch arguments): the guest
    runs in the cores' guest mode, and the debug console shows the nested walk."""
    c = adapter()
    launch(c, prog, hypervisor=True, virt="hw", paging="nested", stopOnEntry=True)
    c.ok("setBreakpoints", source={"path": prog}, breakpoints=[{"line": 24}])
    c.ok("configurationDone")
    assert c.wait_event("stopped")["body"]["reason"] == "entry"
    c.ok("continue", threadId=1)
    assert c.wait_event("stopped")["body"]["reason"] == "breakpoint"
    out = c.ok("evaluate", expression="info pagetable sp", context="repl")["result"]
    assert "nested paging: the host's table of guest frames" in out
    c.ok("stepBack", threadId=1)
    assert c.wait_event("stopped")["body"]["reason"] == "step"
    c.ok("disconnect")
    bad = adapter()
    bad.ok("initialize", adapterID="hv")
    r = bad.request("launch", program=prog, virt="trap", paging="nested")
    assert not r["success"] and "nested needs" in r["message"]
