"""The assembler against vcpu.isa, the brief's surface, and every kind of bad input."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from asm.assembler import assemble, assemble_file
from asm.errors import AsmError
from asm.loader import ProgramNotFound, load_program
from vcpu import isa
from vcpu.image import CODE, CONST, DATA, Image, ImageError

INT_MIN, INT_MAX, UMAX = -(1 << 31), (1 << 31) - 1, (1 << 32) - 1


def code(src: str) -> bytes:
    """The bytes of a one-segment program."""
    image = assemble(src, "t.s")
    assert len(image.segments) == 1
    return image.segments[0][1]


def error_of(src: str, filename: str = "t.s") -> AsmError:
    with pytest.raises(AsmError) as info:
        assemble(src, filename)
    return info.value


def operand_text(kind: str, fields: dict, field: str) -> str:
    if kind == "reg":
        return f"r{fields[field]}"
    if kind == "cr":
        return isa.CR(fields[field]).name
    if kind == "mem":
        return f"[r{fields['y']} + {fields['imm']}]"
    return str(fields[field])


def source_for(instr: isa.Instr, fields: dict) -> str:
    ops = ", ".join(operand_text(kind, fields, f) for kind, f in instr.syntax)
    return f"{instr.mnemonic} {ops}".strip()


def sample_fields(instr: isa.Instr) -> dict:
    fields = {}
    for kind, f in instr.syntax:
        if kind == "mem":
            fields.update(y=7, imm=-12)
        elif kind in ("reg",):
            fields[f] = 3 if f == "x" else 12 if f == "y" else 9
        elif kind == "cr":
            fields[f] = isa.CR.ptbr.value
        elif kind == "port":
            fields[f] = 0xFF
        else:
            fields[f] = 0xDEADBEEF
    return fields


# --- every form, byte-exact -------------------------------------------------------------

@pytest.mark.parametrize("instr", isa.INSTRUCTIONS, ids=lambda i: i.name)
def test_every_form_encodes_as_the_table_says(instr):
    fields = sample_fields(instr)
    assert code(source_for(instr, fields)) == isa.encode(instr, **fields)


def test_form_selection_by_operand_kind():
    add_r, add_i = isa.BY_MNEMONIC["add"]
    assert code("add r1, r2, r3")[0] == add_r.opcode
    assert code("add r1, r2, 3")[0] == add_i.opcode
    assert code("add r1, r2, label\nlabel:")[0] == add_i.opcode
    assert code("jmp r4") == isa.encode(isa.BY_MNEMONIC["jmp"][1], x=4)
    assert code("x: jmp x") == isa.encode(isa.BY_MNEMONIC["jmp"][0], imm=0)
    assert code("call sp") == isa.encode(isa.BY_MNEMONIC["call"][1], x=15)


def test_case_insensitive_keywords_case_sensitive_symbols():
    assert code("LI R1, 5\nMtCr EVEC, SP\n.WORD 1") == code("li r1, 5\nmtcr evec, r15\n.word 1")
    err = error_of("Loop: nop\njmp loop")
    assert "undefined symbol 'loop'; did you mean 'Loop'?" in str(err)


def test_memory_operands():
    ld = isa.BY_MNEMONIC["ld"][0]
    assert code("ld r1, [r2]") == isa.encode(ld, x=1, y=2, imm=0)
    assert code("ld r1, [r2 + 8]") == isa.encode(ld, x=1, y=2, imm=8)
    assert code("ld r1, [r2 - 8]") == isa.encode(ld, x=1, y=2, imm=-8)
    assert code("ld r1, [r2 - 4 + 2]") == isa.encode(ld, x=1, y=2, imm=-2)
    assert code("ld r1, [8 + sp]") == isa.encode(ld, x=1, y=15, imm=8)
    assert code(".equ OFF, 0x9000\nst r4, [r5 + OFF]") == isa.encode(
        isa.BY_MNEMONIC["st"][0], x=4, y=5, imm=0x9000)


# --- round trip with hypothesis -------------------------------------------------------

def _biased(lo: int, hi: int):
    edges = [v for v in (0, 1, -1, INT_MIN, INT_MAX, UMAX, lo, hi) if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


@st.composite
def instruction_and_fields(draw):
    instr = draw(st.sampled_from(isa.INSTRUCTIONS))
    fields = {}
    for kind, f in instr.syntax:
        if kind == "mem":
            fields["y"] = draw(st.integers(0, 15))
            fields["imm"] = draw(_biased(INT_MIN, UMAX))
        elif kind == "reg":
            fields[f] = draw(st.integers(0, 15))
        elif kind == "cr":
            fields[f] = draw(st.integers(0, isa.NUM_CRS - 1))
        elif kind == "port":
            fields[f] = draw(_biased(0, 255))
        else:
            fields[f] = draw(_biased(INT_MIN, UMAX))
    return instr, fields


@settings(max_examples=300, deadline=None)
@given(instruction_and_fields())
def test_encode_decode_round_trip(case):
    instr, fields = case
    raw = code(source_for(instr, fields))
    assert raw == isa.encode(instr, **fields)
    decoded = isa.decode(raw)
    assert decoded.instr is instr
    expect = {k: (v & isa.WORD_MASK if k == "imm" else v) for k, v in fields.items()}
    assert decoded.fields == expect


# --- expressions and literals -----------------------------------------------------------

@pytest.mark.parametrize("expr, value", [
    ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("1 << 2 + 1", 8), ("1 | 2 ^ 3 & 4", 3),
    ("10 - 2 - 3", 5), ("7 / 2 * 2", 6), ("-7 / 2", -3), ("-7 % 2", -1), ("7 % -2", 1),
    ("0x10 + 0b101", 21), ("'A'", 65), ("'\\n'", 10), ("'\\x41'", 65), ("'\\0'", 0),
    ("'\\''", 39), ("'\\\\'", 92), ("-(3)", -3), ("- -3", 3), ("~0", UMAX), ("~0 & 0xff", 255),
    ("0xffffffff", UMAX), ("-2147483648", INT_MIN), ("256 >> 4", 16), ("-16 >> 2", -4),
    ("';'", 59),
])
def test_expressions(expr, value):
    assert code(f"li r1, {expr}")[2:] == (value & isa.WORD_MASK).to_bytes(4, "little")


def test_string_escapes():
    assert code('.ascii "a\\tb\\n\\\\\\"\\\'\\0\\x41;"') == b'a\tb\n\\"\'\x00A;'
    assert code('.asciz "hi"') == b"hi\0"
    assert code('.ascii "é"') == "é".encode()


def test_data_directives():
    assert code(".word 1, -1, 0xffffffff") == bytes.fromhex("01000000 ffffffff ffffffff")
    assert code(".half 0x1234, -1") == bytes.fromhex("3412 ffff")
    assert code(".byte 1, 255, -128") == bytes([1, 255, 128])
    assert code(".byte 1\n.align 4\n.byte 2") == bytes([1, 0, 0, 0, 2])
    assert code(".space 3\n.space 2, 0xaa") == bytes([0, 0, 0, 0xAA, 0xAA])


def test_forward_labels_and_equ():
    src = """
        .entry start
        .equ SIZE, end - start
        data: .word start, end, SIZE
        start: jmp end
        end: li r1, SIZE
    """
    image = assemble(src, "t.s")
    syms = image.symbol_map()
    assert syms["start"].value == 12 and syms["end"].value == 17
    assert syms["data"].kind == DATA and syms["start"].kind == CODE
    assert syms["SIZE"].kind == CONST and syms["SIZE"].value == 5
    assert image.entry == 12
    assert image.segments[0][1][:12] == bytes.fromhex("0c000000 11000000 05000000")


def test_org_segments_and_default_entry():
    image = assemble(".org 0x100\nmsg: .asciz \"x\"\nmain: nop\n.org 0x200\n.word main", "t.s")
    assert image.segments == [(0x100, b"x\0\x01"), (0x200, (0x102).to_bytes(4, "little"))]
    assert image.entry == 0x102            # the first instruction
    assert assemble(".org 0x40\n.word 1", "t.s").entry == 0x40


def test_label_forms():
    image = assemble("a:\nb: c: nop\nmsg: .asciz \"hi\"", "t.s")
    assert [(s.name, s.value) for s in image.symbols] == [("a", 0), ("b", 0), ("c", 0), ("msg", 1)]


def test_crlf_and_bom_are_fine():
    assert code("\ufeffnop\r\nli r1, 5\r\n") == code("nop\nli r1, 5\n")


# --- include and macros -----------------------------------------------------------------

def test_include_relative_to_the_including_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "main.s").write_text('.include "sub/a.s"\njmp helper\n')
    (tmp_path / "sub" / "a.s").write_text('.include "b.s"\n')
    (tmp_path / "sub" / "b.s").write_text("helper: ret\n")
    image = assemble_file(tmp_path / "main.s")
    assert image.segments[0][1] == isa.encode(isa.BY_MNEMONIC["ret"][0]) + \
        isa.encode(isa.BY_MNEMONIC["jmp"][0], imm=0)


def test_recursive_include_is_reported(tmp_path):
    (tmp_path / "a.s").write_text('nop\n.include "b.s"\n')
    (tmp_path / "b.s").write_text('.include "a.s"\n')
    with pytest.raises(AsmError) as info:
        assemble_file(tmp_path / "a.s")
    d = info.value.diagnostics[0]
    assert (d.file.endswith("b.s"), d.line, d.col) == (True, 1, 10)
    assert "recursive .include: a.s -> b.s -> a.s" in d.message


def test_missing_include(tmp_path):
    (tmp_path / "a.s").write_text('nop\n  .include "nope.s"\n')
    with pytest.raises(AsmError) as info:
        assemble_file(tmp_path / "a.s")
    d = info.value.diagnostics[0]
    assert (d.line, d.col) == (2, 12) and "cannot include 'nope.s': no such file" in d.message


def test_macros():
    src = r"""
    .macro inc reg, n
        add \reg, \reg, \n
    .endm
    .MACRO spin
    l\@: jmp l\@
    .endm
        inc r1, 5
        INC r2, (1 + 2) * 2
        spin
        spin
    """
    add_i = isa.BY_MNEMONIC["add"][1]
    jmp_i = isa.BY_MNEMONIC["jmp"][0]
    assert code(src) == (isa.encode(add_i, x=1, y=1, imm=5) + isa.encode(add_i, x=2, y=2, imm=6)
                         + isa.encode(jmp_i, imm=12) + isa.encode(jmp_i, imm=17))


def test_macro_with_memory_operand_argument():
    src = ".macro load2 a, b, m\n ld \\a, \\m\n ld \\b, \\m\n.endm\nload2 r1, r2, [r3 + 4]\n"
    ld = isa.BY_MNEMONIC["ld"][0]
    assert code(src) == isa.encode(ld, x=1, y=3, imm=4) + isa.encode(ld, x=2, y=3, imm=4)


# --- bad input: file:line:col, message, and never a traceback ----------------------------

BAD = [
    ("unknown mnemonic", "nop\n  ad r1, r2, r3\n", 2, 3, "unknown mnemonic 'ad'; did you mean 'add'?"),
    ("unknown directive", ".wrod 1\n", 1, 1, "unknown directive '.wrod'; did you mean '.word'?"),
    ("too few operands", "add r1, r2\n", 1, 1, "'add' takes 3 operands, got 2"),
    ("too many operands", "ret r1\n", 1, 5, "'ret' takes 0 operands, got 1"),
    ("wrong kind", "mov r1, 5\n", 1, 9, "expected a register, got the number 5"),
    ("swapped out", "out r1, 0x10\n", 1, 5, "expected a port number"),
    ("no such register", "push r16\n", 1, 6, "there is no register 'r16'"),
    ("register typo", "push rx1\n", 1, 6, "expected a register, got 'rx1'; did you mean 'r1'?"),
    ("unknown cr", "mfcr r1, statsu\n", 1, 10, "unknown control register 'statsu'; did you mean 'status'?"),
    ("imm below int min", "li r1, -2147483649\n", 1, 8, "immediate -2147483649 out of range"),
    ("imm above uint max", "li r1, 0x100000000\n", 1, 8, "immediate 4294967296 out of range"),
    ("imm 2^64", "li r1, 18446744073709551616\n", 1, 8, "out of range"),
    ("huge literal", "li r1, " + "9" * 5000 + "\n", 1, 8, "number too large"),
    ("port out of range", "in r1, 256\n", 1, 8, "port 256 out of range (0..255)"),
    ("byte out of range", ".byte 1, 256\n", 1, 10, ".byte value 256 out of range"),
    ("undefined symbol", "main: nop\njmp mian\n", 2, 5, "undefined symbol 'mian'; did you mean 'main'?"),
    ("duplicate label", "a: nop\n a: nop\n", 2, 2, "duplicate symbol 'a' (first defined at t.s:1)"),
    ("duplicate equ", ".equ X, 1\n.equ X, 2\nnop\n", 2, 6, "duplicate symbol 'X'"),
    ("label vs equ", "X: nop\n.equ X, 2\n", 2, 6, "duplicate symbol 'X'"),
    ("cyclic equ", ".equ A, B + 1\n.equ B, A * 2\nli r1, A\n", 2, 9, "cyclic definition: A -> B -> A"),
    ("self equ", "nop\n.equ A, A\n", 2, 9, "cyclic definition: A -> A"),
    ("recursive macro", ".macro m\n  m\n.endm\nm\n", 2, 3, "recursive macro expansion: m -> m"),
    ("macro without endm", ".macro m\nnop\n", 1, 1, "macro 'm' has no .endm"),
    ("macro arg count", ".macro m a\n.endm\nm 1, 2\n", 3, 6, "macro 'm' takes 1 argument"),
    ("unterminated string", 'msg: .asciz "hello\n', 1, 13, "unterminated string"),
    ("unterminated char", "li r1, 'a\n", 1, 8, "unterminated character literal"),
    ("bad escape", '.ascii "\\q"\n', 1, 9, "unknown escape '\\q'"),
    ("NUL byte", "nop\nno\0p\n", 2, 3, "NUL byte in source"),
    ("huge space", ".space 0x100000000\n", 1, 8, ".space 4294967296 is too large"),
    ("big space", ".space 17000000\n", 1, 8, "is too large (the limit is 16 MiB)"),
    ("overlapping org", "nop\nnop\n.org 1\nnop\n", 3, 1, "overlapping code or data"),
    ("division by zero", "li r1, 5 / 0\n", 1, 12, "division by zero"),
    ("division by zero symbol", ".equ Z, 0\nli r1, 5 % Z\n", 2, 12, "division by zero"),
    ("register in expression", "li r1, r2 + 1\n", 1, 8, "register 'r2' cannot be part of an expression"),
    ("memory without base", "ld r1, [8]\n", 1, 9, "needs a base register"),
    ("label on register", "sp: nop\n", 1, 1, "'sp' is a register name"),
    ("syntax", "add r1 r2, r3\n", 1, 8, "unexpected 'r2'; expected ','"),
    ("unexpected char", "nop @\n", 1, 5, "unexpected character '@'"),
    ("invalid number", "li r1, 12ab\n", 1, 8, "invalid number '12ab'"),
    ("forward .space", ".space N\n.equ N, 4\n", 1, 8, "undefined symbol 'N'"),
    ("second entry", ".entry a\n.entry a\na: nop\n", 2, 1, "second .entry"),
    ("past 4 GiB", ".org 0xfffffffe\n.word 1\n", 2, 1, "past the end of the 32-bit address space"),
    ("long code line", "x" * (1 << 20) + "\n", 1, 1, "line too long"),
]


@pytest.mark.parametrize("name, src, line, col, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_reports_file_line_col(name, src, line, col, message):
    err = error_of(src)
    first = err.diagnostics[0]
    assert (first.file, first.line, first.col) == ("t.s", line, col), str(err)
    assert message in first.message
    text = str(err)
    assert text.startswith(f"t.s:{line}:{col}: error: ")
    assert "Traceback" not in text
    # Source line and a caret under the column.
    lines = text.splitlines()
    caret = lines[2]
    assert caret.rstrip().endswith("^")
    assert len(caret.rstrip()) - 4 == min(col, 61 + 3) or len(src.splitlines()[line - 1]) > 120


def test_empty_file_is_an_error():
    assert "nothing to assemble" in str(error_of(""))
    assert "nothing to assemble" in str(error_of("; just a comment\n.equ X, 1\n"))


def test_invalid_utf8_names_the_line(tmp_path):
    p = tmp_path / "u.s"
    p.write_bytes(b"nop\nli r1, \xff\xfe\nnop\n")
    with pytest.raises(AsmError) as info:
        assemble_file(p)
    d = info.value.diagnostics[0]
    assert (d.line, d.col) == (2, 8) and "invalid UTF-8" in d.message


def test_several_errors_in_one_run():
    err = error_of("foo\nnop\nbar r1\nli r1, 1 / 0\njmp nowhere\n")
    assert [d.line for d in err.diagnostics] == [1, 3, 4, 5]
    assert str(err).endswith("4 errors")


def test_long_comment_line_is_fine():
    assert code("nop ; " + "x" * (1 << 20)) == b"\x01"


def test_deeply_nested_expression_is_an_error_not_a_crash():
    depth = 30000
    src = ".equ a, 1\nli r1, " + "+".join(["a"] * depth) + "\n"
    assert "too deeply nested" in str(error_of(src))
    assert code("li r1, " + "(" * 5000 + "1" + ")" * 5000) == code("li r1, 1")


def test_macro_error_points_into_the_body_with_a_note():
    err = error_of(".macro m\n  add r1, r2\n.endm\nnop\nm\n")
    d = err.diagnostics[0]
    assert (d.line, d.col) == (2, 3)
    assert d.notes and d.notes[0].line == 5 and "in expansion of macro 'm'" in d.notes[0].message


# --- loader and commands -----------------------------------------------------------------

def test_loader_reads_sources_and_images(tmp_path):
    src = tmp_path / "p.s"
    src.write_text("main: li r1, 7\nhalt\n")
    image = load_program(src)
    img = tmp_path / "p.img"
    img.write_bytes(image.to_bytes())
    assert load_program(img) == image
    with pytest.raises(ProgramNotFound, match="no such file"):
        load_program(tmp_path / "missing.s")
    assert issubclass(ProgramNotFound, ImageError)
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"\x00\x01garbage" * 4)
    with pytest.raises(ImageError, match="not an hv image"):
        load_program(bad)


def _cli(argv):
    from hv.cli import main
    return main(argv)


def test_asm_command(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text("main: li r1, 7\n mtcr evec, r1\nhalt\n")
    assert _cli(["asm", str(src), "--listing"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"00000006\s+68 11\s+privileged", out)
    assert re.search(r"00000000\s+02 10 07 00 00 00\s+innocuous", out)
    assert Image.from_bytes((tmp_path / "p.img").read_bytes()) == assemble_file(src)
    assert _cli(["asm", str(src), "-o", str(tmp_path / "q.bin")]) == 0
    assert (tmp_path / "q.bin").exists()


def test_asm_command_error(tmp_path, capsys):
    src = tmp_path / "bad.s"
    src.write_text("nop\nfrob r1\n")
    assert _cli(["asm", str(src)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:2:1: error: unknown mnemonic 'frob'" in err
    assert "Traceback" not in err


def test_disasm_command(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text("main: call f\nhalt\nf: ret\n")
    assert _cli(["disasm", str(src)]) == 0
    assert "call f" in capsys.readouterr().out
    assert _cli(["disasm", str(tmp_path / "nope.img")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_equ_file_included_twice_is_harmless(tmp_path):
    (tmp_path / "consts.s").write_text(".equ K, 7\n")
    (tmp_path / "lib.s").write_text('.include "consts.s"\n')
    (tmp_path / "p.s").write_text('.include "consts.s"\n.include "lib.s"\nli r1, K\nhalt\n')
    assert assemble_file(tmp_path / "p.s").segments[0][1][:6] == bytes([0x02, 0x10, 7, 0, 0, 0])
    (tmp_path / "q.s").write_text('.include "consts.s"\n.equ K, 7\nhalt\n')
    with pytest.raises(AsmError, match="duplicate symbol 'K'"):
        assemble_file(tmp_path / "q.s")
