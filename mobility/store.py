"""The code repository: program images stored by their SHA-256, and a manifest that maps
program names (and versions) to hashes. All plain files, so any static HTTP server serves it:

    DIR/manifest.json                   {"format": "hv-repo", "version": 1, "programs": {
                                           "child": [{"version": 1, "sha256": "…", "size": N}, …]}}
    DIR/objects/ab/abcdef…              the image whose SHA-256 is abcdef… (first two hex
                                        digits as a directory, as git does)

A program is asked for as `name` (its newest version) or `name@V`. A fetch reads the manifest,
then the object, and believes neither: the object must have the size and the hash the
manifest gives, the manifest must be well formed, and both are bounded in size and time.
Every failure is one of the status codes below, never an exception that escapes.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

FORMAT = "hv-repo"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST = 1 << 20          # bytes: a manifest larger than this is not believed
MAX_PROGRAM = 16 << 20          # bytes: no program is larger, whatever the buffer
DEFAULT_TIMEOUT = 5.0           # seconds for one whole fetch (manifest + object)
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,55}$")
HASH_RE = re.compile(r"^[0-9a-f]{64}$")


class Status:
    """Status codes of a fetch, as the repository device reports them (docs/isa.md)."""
    OK = 0
    NOT_FOUND = 1        # no such program (or version) in the manifest
    TOO_BIG = 2          # larger than the guest's buffer or than MAX_PROGRAM
    UNREACHABLE = 3      # no repository there: connection refused, HTTP error, bad manifest
    BAD_HASH = 4         # the object is not what the manifest says (hash or size)
    TIMEOUT = 5          # the fetch did not finish in time
    BAD_DMA = 6          # the name or the buffer lies outside guest memory
    BAD_NAME = 7         # not a valid program name
    BAD_CMD = 8          # unknown command
    NO_REPO = 9          # the machine has no repository attached
    BUSY = 10            # the guest's I/O tokens are spent: try again later


STATUS_TEXT = {
    Status.OK: "ok",
    Status.NOT_FOUND: "no such program",
    Status.TOO_BIG: "program too big",
    Status.UNREACHABLE: "repository unreachable",
    Status.BAD_HASH: "hash mismatch",
    Status.TIMEOUT: "timeout",
    Status.BAD_DMA: "address outside guest memory",
    Status.BAD_NAME: "bad program name",
    Status.BAD_CMD: "unknown command",
    Status.NO_REPO: "no repository attached",
    Status.BUSY: "I/O tokens spent",
}


class RepoError(Exception):
    """A user error with `hv repo` (one line)."""


@dataclass
class Fetched:
    status: int
    data: bytes = b""
    message: str = ""       # one line for the trace when status != OK
    sha256: str = ""


# --- building a repository -----------------------------------------------------------------

def empty_manifest() -> dict:
    return {"format": FORMAT, "version": VERSION, "programs": {}}


def read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not path.exists():
        return empty_manifest()
    try:
        m = parse_manifest(path.read_bytes())
    except ValueError as e:
        raise RepoError(f"{path}: {e}") from None
    return m


def parse_manifest(raw: bytes) -> dict:
    """Check a manifest's shape; ValueError (one line) when it is not one."""
    if len(raw) > MAX_MANIFEST:
        raise ValueError(f"manifest larger than {MAX_MANIFEST} bytes")
    try:
        m = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"not a repository manifest (bad JSON: {e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ValueError("not a repository manifest (no \"format\": \"hv-repo\")")
    if m.get("version") != VERSION:
        raise ValueError(f"repository format version {m.get('version')!r}, this hv reads {VERSION}")
    progs = m.get("programs")
    if not isinstance(progs, dict):
        raise ValueError("manifest has no \"programs\" table")
    for name, versions in progs.items():
        if not NAME_RE.match(str(name)) or not isinstance(versions, list) or not versions:
            raise ValueError(f"manifest entry {name!r} is malformed")
        for v in versions:
            if (not isinstance(v, dict) or not isinstance(v.get("version"), int)
                    or not HASH_RE.match(str(v.get("sha256", "")))
                    or not isinstance(v.get("size"), int) or v["size"] < 0):
                raise ValueError(f"manifest entry {name!r} has a malformed version")
    return m


def object_path(sha: str) -> str:
    return f"objects/{sha[:2]}/{sha}"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)          # readable by a web server running as someone else
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def program_name(path: str) -> str:
    """`dir/child.s` is `child` (as `hv os` names programs on its disk)."""
    base = os.path.basename(path)
    for suffix in (".s", ".asm", ".S", ".hvi", ".img"):
        if base.endswith(suffix):
            base = base[:-len(suffix)]
            break
    return base


def add(root: str | os.PathLike, name: str, image_bytes: bytes) -> tuple[str, int, bool]:
    """Store an image under `name`. Returns (sha256, version, new): adding the same bytes
    again is a no-op; different bytes become the next version."""
    if not NAME_RE.match(name):
        raise RepoError(f"{name!r}: a program name is letters, digits, '_', '.', '-' "
                        f"(at most 56, not starting with '.' or '-')")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise RepoError(f"{root}: not a directory")
    m = read_manifest(root)
    sha = hashlib.sha256(image_bytes).hexdigest()
    versions = m["programs"].setdefault(name, [])
    if versions and versions[-1]["sha256"] == sha:
        return sha, versions[-1]["version"], False
    obj = root / object_path(sha)
    if not obj.exists():
        _write_atomic(obj, image_bytes)
    version = versions[-1]["version"] + 1 if versions else 1
    versions.append({"version": version, "sha256": sha, "size": len(image_bytes)})
    # Objects first, manifest last: a reader never sees a name whose object is missing.
    _write_atomic(root / MANIFEST, (json.dumps(m, indent=1, sort_keys=True) + "\n").encode())
    return sha, version, True


def listing(root: str | os.PathLike) -> list[dict]:
    root = Path(root)
    if not (root / MANIFEST).exists():
        raise RepoError(f"{root}: not a repository (no {MANIFEST}; create one with hv repo add)")
    m = read_manifest(root)
    rows = []
    for name in sorted(m["programs"]):
        for v in m["programs"][name]:
            present = (root / object_path(v["sha256"])).is_file()
            rows.append({"name": name, **v, "present": present})
    return rows


# --- fetching ------------------------------------------------------------------------------

def split_name(requested: str) -> tuple[str, int | None] | None:
    """'child' -> ('child', None); 'child@2' -> ('child', 2); None when malformed."""
    name, sep, ver = requested.partition("@")
    if not NAME_RE.match(name):
        return None
    if not sep:
        return name, None
    if not ver.isdigit() or len(ver) > 9:
        return None
    return name, int(ver)


def resolve(manifest: dict, requested: str) -> dict | None:
    parsed = split_name(requested)
    if parsed is None:
        return None
    name, ver = parsed
    versions = manifest["programs"].get(name)
    if not versions:
        return None
    if ver is None:
        return versions[-1]
    return next((v for v in versions if v["version"] == ver), None)


class _Timeout(Exception):
    pass


class _TooBig(Exception):
    pass


class _Unreachable(Exception):
    pass


class Source:
    """Where a machine's repository lives: a directory, or an http:// URL."""

    def __init__(self, where: str, timeout: float = DEFAULT_TIMEOUT):
        self.where = where
        self.timeout = timeout
        self.url = None
        if where.startswith(("http://", "https://")):
            u = urllib.parse.urlsplit(where)
            if not u.hostname:
                raise RepoError(f"{where}: no host in the URL")
            try:
                u.port
            except ValueError:
                raise RepoError(f"{where}: bad port in the URL") from None
            self.url = u
        elif "://" in where:
            raise RepoError(f"{where}: a repository is a directory or an http:// URL")
        else:
            self.root = Path(where)

    def __str__(self) -> str:
        return self.where

    # One GET, bounded: at most `limit` bytes (more is _TooBig), finished by `deadline`.
    def _get(self, rel: str, limit: int, deadline: float) -> bytes:
        if self.url is None:
            path = self.root / rel
            try:
                with open(path, "rb") as f:
                    data = f.read(limit + 1)
            except FileNotFoundError:
                raise FileNotFoundError(rel) from None
            except OSError as e:
                raise _Unreachable(f"{path}: {e.strerror or e}") from None
            if len(data) > limit:
                raise _TooBig
            return data
        u = self.url
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Timeout
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname, u.port, timeout=remaining)
        path = (u.path.rstrip("/") + "/" + rel) if u.path else "/" + rel
        try:
            conn.request("GET", path, headers={"User-Agent": "hv-repo/1"})
            sock = conn.sock       # the response keeps using it after the connection lets go
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            resp = conn.getresponse()
            if resp.status == 404:
                raise FileNotFoundError(rel)
            if resp.status != 200:
                raise _Unreachable(f"HTTP {resp.status} for {path}")
            length = resp.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise _TooBig        # refused before a byte of it is read
            out = bytearray()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Timeout
                sock.settimeout(left)
                try:
                    chunk = resp.read1(min(65536, limit + 1 - len(out)))
                except http.client.IncompleteRead as e:
                    out += e.partial      # a truncated body: the hash check will say so
                    break
                if not chunk:
                    break
                out += chunk
                if len(out) > limit:
                    raise _TooBig
            return bytes(out)
        except (socket.timeout, TimeoutError):
            raise _Timeout from None
        except (OSError, http.client.HTTPException) as e:
            raise _Unreachable(f"{self.where}: {getattr(e, 'strerror', None) or e}") from None
        finally:
            conn.close()

    def fetch(self, requested: str, limit: int) -> Fetched:
        """The image named `requested`, at most `limit` bytes, checked against its hash."""
        if split_name(requested) is None:
            return Fetched(Status.BAD_NAME, message=f"bad program name {requested!r}")
        limit = min(limit, MAX_PROGRAM)
        deadline = time.monotonic() + self.timeout
        try:
            try:
                raw = self._get(MANIFEST, MAX_MANIFEST, deadline)
            except FileNotFoundError:
                raise _Unreachable(f"{self.where}: no {MANIFEST}: not a repository") from None
            except _TooBig:
                raise _Unreachable(f"{self.where}: manifest larger than {MAX_MANIFEST} bytes")
            try:
                manifest = parse_manifest(raw)
            except ValueError as e:
                raise _Unreachable(f"{self.where}: {e}") from None
            entry = resolve(manifest, requested)
            if entry is None:
                return Fetched(Status.NOT_FOUND, message=f"{requested}: no such program in {self.where}")
            if entry["size"] > limit:
                return Fetched(Status.TOO_BIG, message=f"{requested}: {entry['size']} bytes, "
                               f"the buffer takes {limit}")
            try:
                data = self._get(object_path(entry["sha256"]), entry["size"], deadline)
            except FileNotFoundError:
                return Fetched(Status.BAD_HASH, message=f"{requested}: object "
                               f"{entry['sha256'][:12]} missing from {self.where}")
            except _TooBig:
                return Fetched(Status.BAD_HASH, message=f"{requested}: object larger than the "
                               f"manifest's {entry['size']} bytes")
            sha = hashlib.sha256(data).hexdigest()
            if len(data) != entry["size"] or sha != entry["sha256"]:
                return Fetched(Status.BAD_HASH, message=f"{requested}: got {len(data)} bytes "
                               f"hashing to {sha[:12]}, the manifest says {entry['size']} bytes, "
                               f"{entry['sha256'][:12]}")
            return Fetched(Status.OK, data, sha256=sha)
        except _Timeout:
            return Fetched(Status.TIMEOUT, message=f"{requested}: no answer from {self.where} "
                           f"within {self.timeout:g} s")
        except _Unreachable as e:
            return Fetched(Status.UNREACHABLE, message=str(e))


# --- assembling programs as `hv os` does ---------------------------------------------------

def load_for_repo(path: str, assemble=None, strip: bool = False) -> bytes:
    """An image's bytes: a source assembled by `assemble` (the CLI passes the OS's, which
    finds `user.s` on the include path), or an image file taken as it is (checked first).
    `strip` keeps only the entry and the segments (no symbols, no line table)."""
    from asm import assembler, loader
    from vcpu.image import Image

    raw = loader.read_program_bytes(path)
    if loader.is_source(path, raw[:4]) and (str(path).endswith(loader.SOURCE_SUFFIXES)
                                            or b"\0" not in raw[:4096]):
        image = (assemble or assembler.assemble_file)(path)
    else:
        image = Image.from_bytes(raw, path)         # refuse a file that is not an image
        if not strip:
            return raw
    if strip:
        image = Image(entry=image.entry, segments=image.segments)
    return image.to_bytes()


def parse_tcp(spec: str) -> tuple[str, int]:
    """'tcp:HOST:PORT' -> (host, port); RepoError (one line) otherwise."""
    kind, _, rest = spec.partition(":")
    host, _, port = rest.rpartition(":")
    if kind != "tcp" or not host or not port.isdigit() or int(port) > 65535:
        raise RepoError(f"{spec!r}: expected tcp:HOST:PORT (for example tcp:127.0.0.1:8000)")
    return host.strip("[]"), int(port)
