"""`hv repo serve`: the repository over HTTP.

The repository is plain files, so this is a static file server and nothing more: the
standard library's ThreadingHTTPServer (no dependency to install, one thread per client so a
slow client cannot hold up the others, and the protocol is two GETs). It serves only the
manifest and the objects: no directory listings, no other files.
"""
from __future__ import annotations

import http.server
import os
import sys
import threading
import time
from functools import partial

from .store import HASH_RE, MANIFEST


class RepoHandler(http.server.SimpleHTTPRequestHandler):
    server_version = "hv-repo/1"
    quiet = False

    def _allowed(self) -> bool:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/" + MANIFEST:
            return True
        parts = path.strip("/").split("/")
        return (len(parts) == 3 and parts[0] == "objects" and HASH_RE.match(parts[2]) is not None
                and parts[1] == parts[2][:2])

    def send_head(self):
        if not self._allowed():
            self.send_error(404, "not in the repository")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(404, "no listings")
        return None

    def log_message(self, format, *args):
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def make_server(root: str, host: str, port: int, quiet: bool = False):
    if not os.path.isfile(os.path.join(root, MANIFEST)):
        raise OSError(f"{root}: not a repository (no {MANIFEST})")
    handler = partial(type("H", (RepoHandler,), {"quiet": quiet}), directory=root)
    srv = http.server.ThreadingHTTPServer((host, port), handler)
    srv.daemon_threads = True
    return srv


def serve(root: str, host: str, port: int, *, max_time: float | None = None,
          quiet: bool = False, announce=print) -> None:
    srv = make_server(root, host, port, quiet)
    h, p = srv.server_address[:2]
    announce(f"serving {root} on http://{h}:{p}/")
    if max_time is not None:
        t = threading.Timer(max_time, srv.shutdown)
        t.daemon = True
        t.start()
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
