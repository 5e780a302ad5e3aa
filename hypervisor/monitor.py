"""The monitor: QMP-shaped JSON commands on a Unix socket (`hv boot --monitor unix:PATH`).

As in QEMU's QMP, the server greets each connection with `{"QMP": {...}}`, the client sends
`{"execute": "qmp_capabilities"}`, then one JSON object per line
`{"execute": CMD, "arguments": {...}, "id": ...}` and gets `{"return": ...}` or
`{"error": {"class": ..., "desc": ...}}` back (with the same `id`). Events (`STOP`, `RESUME`,
`MIGRATION`, `SHUTDOWN`) are sent to every connected client as `{"event": ..., "data": ...}`.

Commands: stop, cont, query-status, snapshot {file, guest?}, migrate {uri, guest?},
query-migrate, quit. They are carried out by the run loop between two slices (at an
instruction boundary of every guest), so a snapshot taken from the monitor is as exact as
one taken with --snapshot-at; the connection thread only parses and waits for the answer.
A `migrate` answers when the migration has ended (query-migrate from another connection
then reports the last one).
"""
from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time

COMMANDS = ("qmp_capabilities", "stop", "cont", "query-status", "snapshot", "migrate",
            "query-migrate", "quit", "query-commands")
MAX_LINE = 1 << 16


def _error(desc: str, cls: str = "GenericError") -> dict:
    return {"error": {"class": cls, "desc": desc}}


class Monitor:
    def __init__(self, host, path: str, params=None, migrate=None):
        """`migrate(vm, uri)` carries out a live migration and returns its Migration (the
        command line's, which also reports it on stderr)."""
        self.host = host
        self.path = path
        self.migrate = migrate
        self.params = params or {}
        self.requests: queue.Queue = queue.Queue()
        self.paused = False
        self.closed = False
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()
        self.inflight = 0            # requests read but not yet answered
        if os.path.exists(path):
            import stat
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                raise ValueError(f"--monitor unix:{path}: exists and is not a socket")
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(path)
        except OSError as e:
            raise ValueError(f"--monitor unix:{path}: cannot listen ({e.strerror or e})") from None
        self.sock.listen(4)
        threading.Thread(target=self._accept, daemon=True).start()
        host.poll = self.poll

    # --- connection threads: parse, queue, wait ---------------------------------------------
    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _send(self, conn, obj) -> None:
        data = (json.dumps(obj) + "\r\n").encode()
        with self.lock:
            try:
                conn.sendall(data)
            except OSError:
                pass

    def event(self, name: str, data: dict | None = None) -> None:
        t = time.time()
        msg = {"event": name, "data": data or {},
               "timestamp": {"seconds": int(t), "microseconds": int(t % 1 * 1e6)}}
        for c in list(self.clients):
            self._send(c, msg)

    def _serve(self, conn: socket.socket) -> None:
        self._send(conn, {"QMP": {"version": {"package": "hv", "format": 1},
                                  "capabilities": []}})
        self.clients.append(conn)
        buf = b""
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
                if len(buf) > MAX_LINE and b"\n" not in buf:
                    self._send(conn, _error("command too long"))
                    return
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        with self.lock:
                            self.inflight += 1
                        try:
                            self._send(conn, self._request(line))
                        finally:
                            with self.lock:
                                self.inflight -= 1
        except OSError:
            return
        finally:
            if conn in self.clients:
                self.clients.remove(conn)
            conn.close()

    def _request(self, line: bytes) -> dict:
        try:
            cmd = json.loads(line.decode())
        except (UnicodeDecodeError, ValueError):
            return _error("malformed JSON")
        if not isinstance(cmd, dict) or not isinstance(cmd.get("execute"), str):
            return _error('expected {"execute": COMMAND, "arguments": {...}}')
        args = cmd.get("arguments", {})
        if not isinstance(args, dict):
            return _error("arguments must be an object")
        name = cmd["execute"]
        if name not in COMMANDS:
            return _error(f"the command {name} has not been found", "CommandNotFound")
        if name in ("qmp_capabilities",):
            reply: dict = {"return": {}}
        elif name == "query-commands":
            reply = {"return": [{"name": c} for c in COMMANDS]}
        elif self.closed:
            reply = _error("the machine has stopped")
        else:
            answer: queue.Queue = queue.Queue()
            self.requests.put((name, args, answer))
            while True:
                try:
                    reply = answer.get(timeout=0.5)
                    break
                except queue.Empty:
                    if self.closed:
                        reply = _error("the machine has stopped")
                        break
        if "id" in cmd:
            reply["id"] = cmd["id"]
        return reply

    # --- the run loop's side ------------------------------------------------------------------
    def poll(self) -> None:
        """Carry out queued commands; while paused, wait for more."""
        while True:
            try:
                name, args, answer = self.requests.get(block=self.paused, timeout=0.2)
            except queue.Empty:
                if self.paused and any(vm.running for vm in self.host.vms):
                    continue
                return
            try:
                answer.put(self.execute(name, args))
            except Exception as e:          # a command must never take the host down
                answer.put(_error(f"{name}: {e}"))
            if not self.paused:
                # Run the queue dry before the next slice, then go on.
                if self.requests.empty():
                    return

    def _guest(self, args):
        from .migrate import pick_guest
        name = args.get("guest")
        if name is not None and not isinstance(name, str):
            raise ValueError("guest must be a name")
        return pick_guest(self.host, name, "monitor")

    def status(self) -> dict:
        vms = self.host.vms
        running = any(vm.running for vm in vms)
        mig = getattr(self.host, "migration", None)
        st = ("paused" if self.paused else "running") if running else (
            "postmigrate" if mig is not None and mig.status == "completed" else "shutdown")
        return {"status": st, "running": running and not self.paused,
                "guests": [{"name": vm.name, "icount": vm.core.slots, "state":
                            vm.stop_kind or vm.state, "core": vm.core.name} for vm in vms]}

    def execute(self, name: str, args: dict) -> dict:
        if name == "stop":
            if not self.paused:
                self.paused = True
                self.event("STOP")
            return {"return": {}}
        if name == "cont":
            if self.paused:
                self.paused = False
                self.event("RESUME")
            return {"return": {}}
        if name == "query-status":
            return {"return": self.status()}
        if name == "quit":
            self.paused = False
            self.host.close("quit from the monitor")
            self.event("SHUTDOWN", {"reason": "host-qmp-quit"})
            return {"return": {}}
        if name == "snapshot":
            from vcpu.snapshot import write_file
            from .snapshot import capture_guest
            f = args.get("file")
            if not isinstance(f, str) or not f:
                return _error("snapshot needs a file argument")
            vm = self._guest(args)
            if not vm.running:
                return _error(f"guest {vm.name} is not running ({vm.stop_kind})")
            data = capture_guest(vm, self.params)
            write_file(f, data)
            return {"return": {"file": f, "guest": vm.name, "icount": vm.core.slots,
                               "bytes": len(data)}}
        if name == "migrate":
            uri = args.get("uri")
            if not isinstance(uri, str):
                return _error("migrate needs a uri argument (tcp:HOST:PORT)")
            from .migrate import parse_target
            parse_target(uri)
            vm = self._guest(args)
            if not vm.running:
                return _error(f"guest {vm.name} is not running ({vm.stop_kind})")
            if self.migrate is None:
                return _error("this host cannot migrate")
            self.event("MIGRATION", {"status": "active"})
            mig = self.migrate(vm, uri)
            self.event("MIGRATION", {"status": mig.status})
            return {"return": mig.info()}
        if name == "query-migrate":
            mig = getattr(self.host, "migration", None)
            return {"return": mig.info() if mig is not None else {"status": "none"}}
        return _error(f"the command {name} has not been found", "CommandNotFound")

    def close(self) -> None:
        # Let the answers already computed (quit's, say) reach their clients.
        deadline = time.monotonic() + 1.0
        while self.inflight and self.requests.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.closed = True
        try:
            self.sock.close()
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass


# --- the client: hv monitor PATH CMD [ARGS] -----------------------------------------------------

MAIN_ARG = {"snapshot": "file", "migrate": "uri"}


def client(path: str, cmd: str, args: list[str], timeout: float = 60.0) -> tuple[dict, int]:
    """Send one command; (the reply, exit status 0 / 1 for an error reply)."""
    if path.startswith("unix:"):
        path = path[5:]
    arguments: dict = {}
    for a in args:
        if "=" in a:
            k, _, v = a.partition("=")
            arguments[k] = v
        elif cmd in MAIN_ARG and MAIN_ARG[cmd] not in arguments:
            arguments[MAIN_ARG[cmd]] = a
        else:
            raise ValueError(f"hv monitor {cmd}: unexpected argument {a!r} (use key=value)")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError as e:
        raise ValueError(f"{path}: cannot connect to a monitor ({e.strerror or e})") from None
    f = s.makefile("rb")

    def reply() -> dict:
        while True:
            line = f.readline()
            if not line:
                raise ValueError(f"{path}: the monitor closed the connection")
            obj = json.loads(line)
            if "event" not in obj:
                return obj
    try:
        reply()                                          # the greeting
        s.sendall(b'{"execute": "qmp_capabilities"}\n')
        reply()
        s.sendall((json.dumps({"execute": cmd, "arguments": arguments}) + "\n").encode())
        r = reply()
    except socket.timeout:
        raise ValueError(f"{path}: no answer from the monitor within {timeout:g} s") from None
    finally:
        s.close()
    return r, (1 if "error" in r else 0)
