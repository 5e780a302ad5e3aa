"""Debug information in images: the line table (through .include and macros), symbol
sizes, image format version 2 next to version 1, and `disassemble(source=True)`."""
from __future__ import annotations

import struct
import zlib

import pytest

from asm.assembler import assemble_file
from asm.disasm import disassemble
from vcpu.image import IN_MACRO, Image, ImageError


@pytest.fixture
def program(tmp_path):
    (tmp_path / "inc.s").write_text(
        "; included\n"
        ".macro twice r\n"
        "    add \\r, \\r, \\r\n"
        "    add \\r, \\r, \\r\n"
        ".endm\n"
        "helper:\n"
        "    li r2, 7\n"
        "    ret\n")
    main = tmp_path / "main.s"
    main.write_text(
        '.include "inc.s"\n'
        "start:\n"
        "    li r1, 1\n"
        "      twice r1\n"
        "    call helper\n"
        "    halt\n"
        'msg: .asciz "hi"\n'
        ".entry start\n")
    return main


def test_line_table_through_include_and_macro(program):
    im = assemble_file(program)
    where = {a: im.source_of(a) for a in (0, 6, 7, 13, 16, 19, 24, 25)}
    inc, main = str(program.parent / "inc.s"), str(program)
    assert where[0] == (inc, 7, 5)
    assert where[6] == (inc, 8, 5)
    assert where[7] == (main, 3, 5)
    # Both instructions of the expansion point at the macro call, column of its name.
    assert where[13] == (main, 4, 7) and where[16] == (main, 4, 7)
    assert im.line_at(13).flags & IN_MACRO and not im.line_at(7).flags & IN_MACRO
    assert where[19] == (main, 5, 5)
    assert where[25] == (main, 7, 6)
    assert im.source_of(14) == (main, 4, 7)       # inside an instruction
    assert im.source_of(0x1000) is None           # outside the image
    fi = im.files.index(main)
    assert im.addresses_of_line(fi, 4) == [13, 16]


def test_symbol_sizes(program):
    sizes = {s.name: s.size for s in assemble_file(program).symbols}
    assert sizes == {"helper": 7, "start": 18, "msg": 3}


def test_version_2_round_trip_and_version_1_still_loads(program):
    im = assemble_file(program)
    raw = im.to_bytes()
    assert struct.unpack_from("<H", raw, 4)[0] == 2
    assert Image.from_bytes(raw) == im
    old = Image.from_bytes(im.to_bytes(1))
    assert old.segments == im.segments and old.entry == im.entry
    assert [s.name for s in old.symbols] == [s.name for s in im.symbols]
    assert old.lines == [] and all(s.size == 0 for s in old.symbols)
    assert old.source_of(7) is None


def _resealed(raw: bytes) -> bytes:
    return raw + struct.pack("<I", zlib.crc32(raw))


def test_corrupt_line_tables_are_refused(program):
    raw = assemble_file(program).to_bytes()[:-4]
    with pytest.raises(ImageError, match="corrupt"):
        Image.from_bytes(_resealed(raw[:-3]))            # a row cut short
    # The last row names a file that does not exist.
    bad = bytearray(raw)
    bad[-9:-7] = struct.pack("<H", 9)
    with pytest.raises(ImageError, match="names file 9"):
        Image.from_bytes(_resealed(bytes(bad)))
    future = bytearray(raw)
    future[4:6] = struct.pack("<H", 3)
    with pytest.raises(ImageError, match="version 3"):
        Image.from_bytes(_resealed(bytes(future)))


def test_disassemble_with_source(program):
    im = assemble_file(program)
    text = disassemble(im, source=True)
    lines = text.splitlines()
    i = lines.index("; main.s:4: twice r1")
    assert lines[i + 1].strip().startswith("add r1, r1, r1")
    assert lines[i + 2].strip().startswith("add r1, r1, r1")    # one comment per line
    assert "; inc.s:7: li r2, 7" in lines
    # Without the sources the comment still names the line.
    program.unlink()
    assert "; main.s:3" in disassemble(im, source=True).splitlines()
    # Comments only: the text assembles back to the same bytes.
    assert disassemble(im) == "\n".join(l for l in text.splitlines()
                                        if not l.startswith("; main.s")
                                        and not l.startswith("; inc.s")) + "\n"


def test_hv_disasm_source(program, capsys):
    from hv.cli import main
    assert main(["disasm", "--source", str(program)]) == 0
    out = capsys.readouterr().out
    assert "; main.s:5: call helper\n    call helper" in out
    assert main(["disasm", str(program)]) == 0
    assert "main.s:5" not in capsys.readouterr().out
