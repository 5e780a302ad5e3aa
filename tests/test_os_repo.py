"""The OS's exec fetches programs it does not have from the code repository (hv os --repo),
caches them on its disk, and runs the same fetched bytecode on either core, bare or under
the hypervisor. Failures end in exec's -2 or -1, never a hang."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hv.commands.os import assemble_user, load_programs, run_os
from mobility import store

from tests.repo_servers import BadServer

ROOT = Path(__file__).resolve().parent.parent
MOB = ROOT / "guests" / "mobility"


@pytest.fixture(scope="module")
def init():
    return load_programs([str(MOB / "ondemand.s")])


@pytest.fixture
def repo(tmp_path):
    d = tmp_path / "repo"
    store.add(d, "hello_user", assemble_user(MOB / "hello_user.s").to_bytes())
    return d


def boot(init, repo, core="c", hv=False, name=b"hello_user\n", timeout=None):
    notes = []
    res = run_os(init, hv=hv, core=core, input=name, repo=str(repo) if repo else None,
                 repo_timeout=timeout, repo_note=notes.append, max_steps=20_000_000)
    return res, notes


def test_fetch_once_then_from_the_disk_on_every_core(init, repo):
    outs = set()
    for core, hv in (("c", False), ("py", False), ("c", True), ("py", True)):
        res, notes = boot(init, repo, core, hv)
        assert (res.kind, res.status) == ("poweroff", 0), res.message
        out = res.output.decode()
        assert out.count("hello from a program fetched at run time\n") == 2
        assert out.count("exited with status 7\n") == 2
        assert out.endswith("exec of a program nobody has: -2\n")
        fetched = [n for n in notes if "fetched hello_user" in n]
        assert len(fetched) == 1, notes           # the second exec finds it on the disk
        outs.add((res.output, res.icount))
    assert len(outs) == 1                          # bit for bit, instruction for instruction


def test_failures_give_minus_one_or_two(init, repo, tmp_path):
    m = json.loads((repo / "manifest.json").read_text())
    sha = m["programs"]["hello_user"][0]["sha256"]
    m["programs"]["hello_user"][0]["sha256"] = "0" * 64       # a lie
    lying = tmp_path / "lying"
    (lying / "objects" / "00").mkdir(parents=True)
    (lying / "objects" / "00" / ("0" * 64)).write_bytes(
        (repo / "objects" / sha[:2] / sha).read_bytes())
    (lying / "manifest.json").write_text(json.dumps(m))
    cases = [(lying, b"hello_user\n", -1, "hash mismatch"),
             (tmp_path / "nowhere", b"hello_user\n", -1, "unreachable"),
             (repo, b"nothing_here\n", -2, "no such program"),
             (None, b"hello_user\n", -2, None)]
    for where, name, code, why in cases:
        res, notes = boot(init, where, name=name)
        assert res.kind == "poweroff", res.message
        assert f"exec failed: {code}\n".encode() in res.output, (where, res.output)
        if why:
            assert any(why in n for n in notes), notes


def test_stalling_repository_times_out(init, repo):
    srv = BadServer(repo, "stall")
    try:
        res, notes = boot(init, srv.url, hv=True, timeout=0.3)
    finally:
        srv.close()
    assert res.kind == "poweroff" and b"exec failed: -1\n" in res.output
    assert any("timeout" in n for n in notes)


def test_hv_os_repo_over_http(repo):
    """Two machines, one repository: a served repository feeds an OS on each core."""
    srv = subprocess.Popen([sys.executable, "-m", "hv", "repo", "serve", str(repo), "--listen",
                            "tcp:127.0.0.1:0", "--max-time", "60", "--quiet"],
                           stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        port = re.search(r":(\d+)/", srv.stdout.readline()).group(1)
        outs = []
        for extra in ([], ["--hv", "--core", "py"]):
            r = subprocess.run([sys.executable, "-m", "hv", "os", str(MOB / "ondemand.s"),
                                "--repo", f"http://127.0.0.1:{port}/", "--input", "hello_user",
                                *extra], capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert r.returncode == 0, r.stderr
            outs.append(r.stdout)
        assert outs[0] == outs[1] and outs[0].count("fetched at run time") == 2
    finally:
        srv.kill()
        srv.wait(5)
