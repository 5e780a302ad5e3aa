"""The source distribution: a license, its metadata, and no half of a test suite.

The Python tests need the whole repository (guests, expected outputs, scripts), so the
sdist ships none of them rather than test files that cannot run."""
from __future__ import annotations

import subprocess
import sys
import tarfile

import pytest

from tests.hvcli import ROOT


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    pytest.importorskip("setuptools", minversion="77")
    out = tmp_path_factory.mktemp("sdist")
    p = subprocess.run([sys.executable, "-c", "import sys; from setuptools.build_meta import "
                        "build_sdist; print(build_sdist(sys.argv[1]))", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    name = p.stdout.strip().splitlines()[-1]
    with tarfile.open(out / name) as tar:
        return {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}, \
            tar.extractfile(f"{name.removesuffix('.tar.gz')}/PKG-INFO").read().decode()


def test_sdist_has_a_license_and_its_metadata(sdist):
    files, pkg_info = sdist
    assert "LICENSE" in files
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "License-Expression: MIT" in pkg_info and "License-File: LICENSE" in pkg_info


def test_sdist_ships_no_partial_test_tree(sdist):
    files, _ = sdist
    assert not [f for f in files if f.startswith("tests/")]
    assert "hv/cli.py" in files and "guests/lib/tap.s" in files
