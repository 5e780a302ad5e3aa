"""The C core under AddressSanitizer + UndefinedBehaviorSanitizer, and a minute of libFuzzer.

Both take minutes, so they run in CI (CI=true) or when asked (HV_SANITIZE=1); elsewhere they
skip and say how to run them. See native/README.md.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WANTED = os.environ.get("CI") == "true" or os.environ.get("HV_SANITIZE") == "1"
pytestmark = pytest.mark.skipif(not WANTED, reason="slow: set HV_SANITIZE=1 (CI runs them)")


def test_core_tests_pass_under_asan_and_ubsan():
    if not shutil.which("gcc"):
        pytest.skip("no gcc")
    p = subprocess.run(["bash", str(ROOT / "native" / "sanitize.sh"), "-q", "-x",
                        "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                       timeout=1800, env={**os.environ, "PYTHON": sys.executable})
    tail = (p.stdout + p.stderr)[-4000:]
    assert p.returncode == 0, tail
    assert "ERROR: AddressSanitizer" not in tail and "runtime error" not in tail


def _clang() -> str | None:
    if shutil.which("clang"):
        return "clang"
    if os.environ.get("CI") == "true" and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "clang"], capture_output=True,
                       timeout=900)
    return "clang" if shutil.which("clang") else None


def test_fuzz_the_core_for_a_minute(tmp_path):
    if not _clang():
        pytest.skip("libFuzzer needs clang (apt-get install -y clang)")
    p = subprocess.run(["bash", str(ROOT / "native" / "fuzz.sh"), "60"], cwd=ROOT,
                       capture_output=True, text=True, timeout=900,
                       env={**os.environ, "HV_FUZZ_DIR": str(tmp_path)})
    tail = (p.stdout + p.stderr)[-4000:]
    assert p.returncode == 0, tail
    assert not list(tmp_path.glob("crash-*")), tail
    assert "Done" in tail and "runs in" in tail, tail
