"""Misbehaving HTTP servers on 127.0.0.1 for the repository's failure tests."""
from __future__ import annotations

import socket
import threading
import time


class BadServer:
    """Serves the files of a repository directory, except that it misbehaves on objects:
    'stall' (accept, never answer), 'truncate' (promise N bytes, send half, close),
    'endless' (no Content-Length, bytes forever), 'trickle' (one byte every 50 ms)."""

    def __init__(self, root, mode: str, stop_after: float = 10.0):
        self.root, self.mode = root, mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.deadline = time.monotonic() + stop_after
        self.conns = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while time.monotonic() < self.deadline:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(5)
            req = b""
            while b"\r\n\r\n" not in req:
                chunk = c.recv(4096)
                if not chunk:
                    return
                req += chunk
            path = req.split(b" ")[1].decode()
            is_object = path.startswith("/objects/")
            if is_object and self.mode == "stall":
                time.sleep(3)
                return
            try:
                body = open(str(self.root) + path, "rb").read()
            except OSError:
                c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            if not is_object:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            elif self.mode == "truncate":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                          + body[:len(body) // 2])
            elif self.mode == "endless":
                c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                t_end = time.monotonic() + 3
                while time.monotonic() < t_end:
                    c.sendall(b"\0" * 65536)
            elif self.mode == "trickle":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
                for i in range(min(len(body), 60)):
                    c.send(body[i:i + 1])
                    time.sleep(0.05)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.deadline = 0
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
