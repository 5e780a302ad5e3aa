"""The disassembler: exact round trips, symbolic targets, single instructions, symbols."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from asm.assembler import assemble, assemble_file, assemble_with_records
from asm.disasm import disassemble, disassemble_one, symbolize
from asm.listing import listing
from vcpu import isa
from vcpu.image import CODE, DATA, Image, Symbol

ROOT = Path(__file__).parent.parent
ACCEPTANCE = ROOT.parent / "shared" / "acceptance"


def _programs() -> list[Path]:
    found = sorted(ACCEPTANCE.glob("*.s")) if ACCEPTANCE.is_dir() else []
    found += sorted((ROOT / "guests").glob("**/*.s"))
    return found


def _round_trip(image: Image) -> Image:
    again = assemble(disassemble(image), "disasm.s")
    assert again.segments == image.segments
    assert again.entry == image.entry
    return again


def _assembles_on_its_own(path: Path) -> bool:
    # Library files (no entry point of their own) may still assemble; skip those that don't.
    from asm.errors import AsmError
    try:
        assemble_file(path)
        return True
    except AsmError:
        return False


@pytest.mark.parametrize("path", _programs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_assemble_disassemble_assemble_is_identical(path):
    if not _assembles_on_its_own(path):
        pytest.skip("does not assemble on its own (a fragment for .include)")
    image = assemble_file(path)
    again = _round_trip(image)
    labels = {s.name: s.value for s in image.symbols if s.kind != 2}
    assert {s.name: s.value for s in again.symbols if s.name in labels} == labels


def test_acceptance_programs_are_present_or_skipped():
    if not ACCEPTANCE.is_dir():
        pytest.skip("no shared acceptance directory")
    assert {"arith.s", "traps.s", "paging.s"} <= {p.name for p in ACCEPTANCE.glob("*.s")}


SAMPLE = """
.equ PORT, 0x10
.entry main
fib:    li   r2, 2
        blt  r1, r2, done
        sub  r1, r1, 1
        call fib
done:   ret
main:   li   r1, 10
        call fib
        mtcr evec, r1
        ld   r3, [sp - 4]
        st   r3, [r4 + 0x9000]
        out  PORT, r1
        jmp  main
msg:    .asciz "hello\\n"
table:  .word fib, main, 0
        .space 32
"""


def test_symbolic_targets_and_data():
    image = assemble(SAMPLE, "s.s")
    text = disassemble(image)
    for line in ("call fib", "blt r1, r2, done", "jmp main", "mtcr evec, r1", "ld r3, [sp - 4]",
                 "st r3, [r4 + 0x9000]", "out 0x10, r1", '.asciz "hello\\n"', ".entry main",
                 ".equ PORT, 0x10", "msg:", "table:", ".space"):
        assert line in text, line
    _round_trip(image)


def test_disassemble_one():
    image = assemble(SAMPLE, "s.s")
    mem = image.segments[0][1]
    syms = image.symbol_map()
    at = syms["main"].value
    assert disassemble_one(mem[at + 6:], at + 6, image) == "call fib"
    assert disassemble_one(mem[at + 11:], at + 11) == "mtcr evec, r1"
    assert disassemble_one(mem[at + 6:], at + 6) == "call 0x0"
    assert disassemble_one(mem[at + 6:], at + 6, {0: "f"}) == "call f"
    assert disassemble_one(bytes([0x00]), 0) == ".byte 0x00"
    assert disassemble_one(bytes([0x02, 0x10]), 0) == ".byte 0x02"          # truncated
    assert disassemble_one(isa.encode(isa.BY_MNEMONIC["li"][0], x=1, imm=-1), 0) == "li r1, -1"


def test_symbolize():
    image = assemble(SAMPLE, "s.s")
    main = image.symbol_map()["main"].value
    assert symbolize(main, image) == "main"
    assert symbolize(main + 0x12, image) == "main+0x12"
    assert symbolize(0x100000, image) == "0x100000"


def test_bytes_that_do_not_reencode_stay_bytes():
    # An undefined opcode, a nonzero unused nibble, a control register with no name, and a
    # truncated instruction at the end of the segment.
    raw = bytes([0x00, 0xFF]) + bytes([0x49, 0x3F]) + bytes([0x67, 0x1F]) + bytes([0x02, 0x10])
    image = Image(entry=0, segments=[(0x40, raw)])
    text = disassemble(image)
    assert "jmp" not in text and "mfcr" not in text
    _round_trip(image)


def test_data_symbol_is_shown_as_data():
    nops = bytes([0x01]) * 4
    image = Image(entry=0, segments=[(0, nops + nops)],
                  symbols=[Symbol("start", 0, CODE), Symbol("blob", 4, DATA)])
    text = disassemble(image)
    assert text.count("nop") == 4 and "blob:\n    .byte 0x01, 0x01, 0x01, 0x01" in text
    _round_trip(image)


def test_odd_symbols_do_not_break_the_round_trip():
    image = Image(entry=3, segments=[(0, bytes([1, 1, 1, 1])), (0x100, b"\x4c")],
                  symbols=[Symbol("bad name", 1), Symbol("r3", 2), Symbol("end", 4),
                           Symbol("far", 0x5000), Symbol("dup", 0), Symbol("dup", 1)])
    again = _round_trip(image)
    assert again.symbol_map()["end"].value == 4


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(min_size=1, max_size=64)),
                min_size=1, max_size=3),
       st.integers(0, 0xFFFF), st.booleans())
def test_any_bytes_round_trip(chunks, entry, as_data):
    segments, used = [], []
    for addr, data in chunks:
        if any(addr < b and a < addr + len(data) for a, b in used):
            continue
        used.append((addr, addr + len(data)))
        segments.append((addr, data))
    # As code (decoded where possible) or, under a DATA label, as .byte/.ascii/.space.
    symbols = [Symbol(f"d{i}", a, DATA) for i, (a, _) in enumerate(segments)] if as_data else []
    _round_trip(Image(entry=entry, segments=segments, symbols=symbols))


def test_listing_shows_privilege_classes():
    assembly = assemble_with_records("main: li r1, 1\nmtcr evec, r1\nsys 3\nmsg: .ascii \"abcdefghijklmnop\"\n",
                                     "l.s")
    text = listing(assembly)
    rows = text.splitlines()
    assert any("innocuous" in r and "li r1, 1" in r for r in rows)
    assert any("privileged" in r and "mtcr evec, r1" in r for r in rows)
    assert any("trapping" in r and "sys 3" in r for r in rows)
    assert any(r.startswith("00000013  67 68 69 6a 6b 6c") for r in rows)
