"""Files derived from the ISA table (vcpu/isa.py) are up to date: the C opcode header, the
tables in docs/isa.md and guests/lib/hw.s. Regenerate with `python -m vcpu.gen`."""
from __future__ import annotations

import pytest

from vcpu import gen, isa


def test_generated_files_are_current(capsys):
    status = gen.main(["--check"])
    stale = capsys.readouterr().out
    assert status == 0, f"run `python -m vcpu.gen`:\n{stale}"


@pytest.mark.parametrize("which", ["header", "doc", "hw"])
def test_a_stale_file_is_found(which, tmp_path, monkeypatch, capsys):
    """--check really compares: a hand edit to any generated file makes it fail."""
    paths = {"header": gen.HEADER_PATH, "doc": gen.DOC_PATH, "hw": gen.HW_PATH}
    for name, path in paths.items():
        copy = tmp_path / path.name
        text = path.read_text()
        if name == which:
            text = text.replace("0x10", "0x11", 1)
        copy.write_text(text)
        monkeypatch.setattr(gen, {"header": "HEADER_PATH", "doc": "DOC_PATH",
                                  "hw": "HW_PATH"}[name], copy)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().out


def test_every_port_is_documented():
    assert set(isa.Port) == set(isa.PORT_DOC)


def test_hw_include_names_every_port_and_cause():
    text = gen.hw_include()
    for p in isa.Port:
        assert f".equ PORT_{p.name}," in text
    for c in isa.Cause:
        assert f".equ CAUSE_{c.name}," in text
