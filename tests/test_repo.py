"""The code repository (hv repo add/list/serve) and the repository device, with its
failure modes: repository down, a lying manifest, a truncated download, a 1 GB program, a
server that stalls. Every server runs on 127.0.0.1 and every wait is bounded."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asm.assembler import assemble_file
from hypervisor.host import Host, frames_needed
from mobility import store
from mobility.repodev import attach_repo
from mobility.store import Source, Status
from vcpu import isa
from vcpu.devices import ConsoleInput
from vcpu.machine import Machine

from tests.repo_servers import BadServer

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "guests"
LOADER = GUESTS / "mobility" / "loader.s"
REPO_CMD = [sys.executable, "-m", "hv", "repo"]


def hv_repo(*args, **kw):
    return subprocess.run(REPO_CMD + [str(a) for a in args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, **kw)


@pytest.fixture
def repo(tmp_path):
    d = tmp_path / "repo"
    for prog in ("hello.s", "fib.s"):
        store.add(d, store.program_name(prog), store.load_for_repo(str(GUESTS / prog)))
    return d


def manifest(d):
    return json.loads((d / "manifest.json").read_text())


# --- the repository ------------------------------------------------------------------------

def test_add_list_and_versions(tmp_path):
    d = tmp_path / "r"
    r = hv_repo("add", d, GUESTS / "hello.s", GUESTS / "fib.s")
    assert r.returncode == 0, r.stderr
    assert re.match(r"hello@1 [0-9a-f]{16} \d+ bytes \(added\)", r.stdout)
    m = manifest(d)
    entry = m["programs"]["hello"][0]
    obj = d / "objects" / entry["sha256"][:2] / entry["sha256"]
    assert obj.read_bytes()[:4] == b"HVIM"
    import hashlib
    assert hashlib.sha256(obj.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["size"] == obj.stat().st_size
    # The same bytes again: unchanged. Other bytes under the same name: version 2.
    assert "(unchanged)" in hv_repo("add", d, GUESTS / "hello.s").stdout
    r = hv_repo("add", d, GUESTS / "sieve.s", "--name", "hello")
    assert "hello@2" in r.stdout
    assert [v["version"] for v in manifest(d)["programs"]["hello"]] == [1, 2]
    r = hv_repo("list", d, "--json")
    rows = json.loads(r.stdout)
    assert [(x["name"], x["version"]) for x in rows] == [("fib", 1), ("hello", 1), ("hello", 2)]
    assert all(x["present"] for x in rows)
    # Versions are fetched by name@V; the plain name is the newest.
    src = Source(str(d))
    assert src.fetch("hello@1", 1 << 20).data == obj.read_bytes()
    assert src.fetch("hello", 1 << 20).sha256 == manifest(d)["programs"]["hello"][1]["sha256"]
    assert src.fetch("hello@3", 1 << 20).status == Status.NOT_FOUND


def test_bad_input_gives_one_line(tmp_path):
    bad = tmp_path / "bad.s"
    bad.write_text("    lj r1, 2\n")
    r = hv_repo("add", tmp_path / "r", bad)
    assert r.returncode == 1 and "bad.s:1" in r.stderr and "Traceback" not in r.stderr
    junk = tmp_path / "junk.hvi"
    junk.write_bytes(b"\x00\x01\x02" * 10)
    r = hv_repo("add", tmp_path / "r", junk)
    assert r.returncode == 2 and "not an hv image" in r.stderr
    r = hv_repo("add", tmp_path / "r", GUESTS / "hello.s", "--name", "../evil")
    assert r.returncode == 2 and "program name" in r.stderr
    r = hv_repo("list", tmp_path / "nothing")
    assert r.returncode == 2 and "not a repository" in r.stderr
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "manifest.json").write_text("{not json")
    r = hv_repo("list", tmp_path / "m")
    assert r.returncode == 2 and "bad JSON" in r.stderr and "Traceback" not in r.stderr
    r = hv_repo("serve", tmp_path / "r", "--listen", "udp:1")
    assert r.returncode == 2 and "tcp:HOST:PORT" in r.stderr


def test_list_reports_missing_objects(repo):
    sha = manifest(repo)["programs"]["fib"][0]["sha256"]
    (repo / "objects" / sha[:2] / sha).unlink()
    r = hv_repo("list", repo)
    assert r.returncode == 1 and "missing" in r.stdout


def _start(cmd, pattern):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(pattern, line)
    assert m, (line, p.stderr.read() if p.poll() is not None else "")
    return p, int(m.group(1))


def test_python_http_server_serves_a_repository(repo):
    """Any static HTTP server will do: the standard library's, here."""
    p, port = _start([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                      "--directory", str(repo), "0"], r"port (\d+)")
    try:
        r = Source(f"http://127.0.0.1:{port}/", timeout=5).fetch("hello", 1 << 20)
        assert r.status == Status.OK and r.data[:4] == b"HVIM"
        assert Source(f"http://127.0.0.1:{port}", timeout=5).fetch("nope", 100).status == Status.NOT_FOUND
    finally:
        p.kill()
        p.wait(5)


def test_hv_repo_serve(repo):
    p, port = _start(REPO_CMD + ["serve", str(repo), "--listen", "tcp:127.0.0.1:0",
                                 "--max-time", "30", "--quiet"], r"http://127\.0\.0\.1:(\d+)/")
    try:
        base = f"http://127.0.0.1:{port}/"
        r = Source(base, timeout=5).fetch("fib", 1 << 20)
        assert r.status == Status.OK
        import urllib.error
        import urllib.request
        with pytest.raises(urllib.error.HTTPError) as e:      # nothing but the repository
            urllib.request.urlopen(base, timeout=5)
        assert e.value.code == 404
        with urllib.request.urlopen(base + "manifest.json", timeout=5) as f:
            assert json.load(f)["format"] == "hv-repo"
    finally:
        p.kill()
        p.wait(5)


# --- failures, as the fetch reports them ---------------------------------------------------

def test_repository_down():
    s = socket_free_port()
    t0 = time.monotonic()
    r = Source(f"http://127.0.0.1:{s}/", timeout=2).fetch("hello", 4096)
    assert r.status == Status.UNREACHABLE and time.monotonic() - t0 < 2
    assert Source("/nonexistent/repo").fetch("hello", 4096).status == Status.UNREACHABLE


def socket_free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lying_manifest(repo):
    m = manifest(repo)
    # fib's entry points at hello's object: the bytes are there, but not fib's.
    m["programs"]["fib"][0]["sha256"] = m["programs"]["hello"][0]["sha256"]
    (repo / "manifest.json").write_text(json.dumps(m))
    r = Source(str(repo)).fetch("fib", 1 << 20)
    assert r.status == Status.BAD_HASH and "manifest says" in r.message
    m["programs"]["fib"][0]["sha256"] = "0" * 64          # an object that is not there
    (repo / "manifest.json").write_text(json.dumps(m))
    assert Source(str(repo)).fetch("fib", 1 << 20).status == Status.BAD_HASH
    (repo / "manifest.json").write_text('{"format": "hv-repo", "version": 1, "programs": 7}')
    assert Source(str(repo)).fetch("fib", 1 << 20).status == Status.UNREACHABLE


def test_one_gigabyte_program(repo):
    m = manifest(repo)
    m["programs"]["huge"] = [{"version": 1, "sha256": "ab" * 32, "size": 1 << 30}]
    (repo / "manifest.json").write_text(json.dumps(m))
    t0 = time.monotonic()
    r = Source(str(repo)).fetch("huge", 1 << 30)          # refused from the manifest alone
    assert r.status == Status.TOO_BIG and time.monotonic() - t0 < 1
    # A server that sends bytes forever for a small program: cut off at the manifest's size.
    srv = BadServer(repo, "endless")
    try:
        r = Source(srv.url, timeout=5).fetch("hello", 1 << 20)
        assert r.status == Status.BAD_HASH
    finally:
        srv.close()
    # Smaller than the program, the buffer refuses it too.
    assert Source(str(repo)).fetch("fib", 100).status == Status.TOO_BIG


def test_truncated_download(repo):
    srv = BadServer(repo, "truncate")
    try:
        r = Source(srv.url, timeout=5).fetch("fib", 1 << 20)
        assert r.status == Status.BAD_HASH and "got" in r.message
    finally:
        srv.close()


@pytest.mark.parametrize("mode", ["stall", "trickle"])
def test_stalling_server_times_out(repo, mode):
    srv = BadServer(repo, mode)
    try:
        t0 = time.monotonic()
        r = Source(srv.url, timeout=0.5).fetch("fib", 1 << 20)
        took = time.monotonic() - t0
        assert r.status == Status.TIMEOUT, r
        assert took < 2.0
    finally:
        srv.close()


def test_status_codes_match_the_isa_table():
    codes = {v: k for k, v in vars(Status).items() if not k.startswith("_")}
    assert sorted(c for c in codes if c < len(isa.REPO_STATUS)) == [c for c, _ in isa.REPO_STATUS]


# --- the device, in a guest: bare and virtualized, C and Python cores ---------------------

def run_loader(where, name: bytes, core: str, mode: str, timeout=None, defer=True):
    img = assemble_file(LOADER)
    notes = []
    if mode == "bare":
        m = Machine(img, core=core, console_input=ConsoleInput(name))
        dev = attach_repo(m, where, timeout=timeout, note=notes.append)
        out = m.run(5_000_000)
        return out.kind, out.status, bytes(m.output), out.icount, notes, dev
    host = Host(frames_needed(65536) * 4096)
    vm = host.add("guest", img, mem_size=65536, core=core, console_input=ConsoleInput(name))
    dev = attach_repo(vm, where, timeout=timeout, note=notes.append, defer=defer)
    host.run(max_steps=5_000_000)
    return vm.stop_kind, vm.status, bytes(vm.output), vm.core.icount, notes, dev


def test_fetched_program_runs_the_same_everywhere(repo):
    """The same fetched bytecode on the C and Python cores, bare and under the hypervisor."""
    results = {}
    for core in ("c", "py"):
        for mode in ("bare", "hv"):
            kind, status, out, icount, notes, dev = run_loader(str(repo), b"fib\n", core, mode)
            results[core, mode] = (kind, status, out, icount)
            assert dev.fetches == 1 and "fetched fib" in notes[0]
    first = results["c", "bare"]
    assert first[0] == "poweroff" and first[1] == 0
    size = manifest(repo)["programs"]["fib"][0]["size"]
    assert f"loader: got {size} bytes".encode() in first[2] and b"fib(15) = 610" in first[2]
    assert all(r == first for r in results.values()), results


def test_guest_sees_failure_statuses(repo, tmp_path):
    m = manifest(repo)
    m["programs"]["fib"][0]["sha256"] = m["programs"]["hello"][0]["sha256"]
    lying = tmp_path / "lying"
    lying.mkdir()
    (lying / "manifest.json").write_text(json.dumps(m))
    (lying / "objects").symlink_to(repo / "objects")
    cases = [(str(repo), b"nope\n", 1), (str(repo), b"..\n", 7),
             (f"http://127.0.0.1:{socket_free_port()}/", b"fib\n", 3), (str(lying), b"fib\n", 4)]
    for where, name, want in cases:
        for core, mode in (("c", "bare"), ("py", "hv")):
            kind, status, out, _, notes, _ = run_loader(where, name, core, mode)
            assert (kind, status) == ("poweroff", want), (where, name, out)
            assert f"status {want}".encode() in out
            assert len(notes) == 1 and f"(status {want})" in notes[0] and "\n" not in notes[0]


def test_guest_fetch_times_out(repo):
    srv = BadServer(repo, "stall")
    try:
        kind, status, out, _, notes, _ = run_loader(srv.url, b"fib\n", "c", "hv", timeout=0.3)
        assert (kind, status) == ("poweroff", Status.TIMEOUT) and "timeout" in notes[0]
    finally:
        srv.close()


def test_no_repository_attached():
    kind, status, out, _, notes, _ = run_loader(None, b"hello\n", "c", "bare")
    assert status == Status.NO_REPO


def test_fetch_is_charged_to_io_tokens(repo):
    img = assemble_file(LOADER)
    host = Host(frames_needed(65536) * 4096)
    vm = host.add("guest", img, mem_size=65536, core="c", console_input=ConsoleInput(b"fib\n"))
    attach_repo(vm, str(repo))
    seen = []
    charge = vm.charge_io
    vm.charge_io = lambda n: (seen.append(n), charge(n))
    host.run(max_steps=5_000_000)
    assert manifest(repo)["programs"]["fib"][0]["size"] in seen


def test_hv_run_and_boot_with_repo(repo):
    hv = [sys.executable, "-m", "hv"]
    for cmd in ("run", "boot"):
        r = subprocess.run(hv + [cmd, str(LOADER), "--repo", str(repo), "--input", "hello"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        assert r.stdout.endswith("Hello from the hv virtual machine!\n")
        r = subprocess.run(hv + [cmd, str(LOADER), "--repo", str(repo), "--input", "nope"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert r.returncode == 1 and "status 1" in r.stdout
        assert "no such program" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(hv + ["run", str(LOADER), "--repo", "ftp://x"], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "http://" in r.stderr


def test_failure_is_one_trace_event(repo, tmp_path):
    trace = tmp_path / "t.jsonl"
    r = subprocess.run([sys.executable, "-m", "hv", "boot", str(LOADER), "--repo", str(repo),
                        "--input", "nope", "--trace", str(trace)], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 1, r.stderr
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    device = [e for e in events if e["kind"] == "device"]
    assert len(device) == 1 and "no such program (status 1)" in device[0]["what"]


def test_strip_keeps_only_code_and_data(tmp_path):
    d = tmp_path / "r"
    assert hv_repo("add", d, GUESTS / "fib.s").returncode == 0
    r = hv_repo("add", d, GUESTS / "fib.s", "--name", "fib_small", "--strip")
    assert r.returncode == 0, r.stderr
    progs = manifest(d)["programs"]
    assert progs["fib_small"][0]["size"] < progs["fib"][0]["size"]
    kind, status, out, _, _, _ = run_loader(str(d), b"fib_small\n", "c", "bare")
    assert (kind, status) == ("poweroff", 0) and b"fib(15) = 610" in out


def test_other_guests_run_while_one_fetches(repo):
    """Under the hypervisor a fetch waits in a thread of its own: a guest beside the one
    that waits for a stalling repository finishes first, and the waiting guest still sees
    its timeout at the same instruction as the bare machine."""
    srv = BadServer(repo, "stall")
    try:
        host = Host(2 * frames_needed(65536) * 4096)
        a = host.add("a", assemble_file(LOADER), mem_size=65536, core="c",
                     console_input=ConsoleInput(b"fib\n"))
        b = host.add("b", assemble_file(GUESTS / "fib.s"), mem_size=65536, core="c")
        when = {}
        attach_repo(a, srv.url, timeout=1.0, defer=True,
                    note=lambda text: when.setdefault("a", time.monotonic()))
        stop = b.stop

        def stopped(*args, **kw):
            when.setdefault("b", time.monotonic())
            return stop(*args, **kw)
        b.stop = stopped
        host.run(max_steps=5_000_000)
        _, _, out, icount, _, _ = run_loader(srv.url, b"fib\n", "c", "bare", timeout=0.2)
    finally:
        srv.close()
    assert (a.stop_kind, a.status) == ("poweroff", Status.TIMEOUT)
    assert (b.stop_kind, b.status) == ("poweroff", 0)
    assert when["b"] < when["a"]
    assert (bytes(a.output), a.core.icount) == (out, icount)
