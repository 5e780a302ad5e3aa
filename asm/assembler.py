"""The assembler: source text in, `vcpu.image.Image` out.

Two passes. Pass 1 reads lines (following `.include` and expanding macros), parses each,
picks each instruction's form from `vcpu.isa` by the kinds of its operands and so knows its
size, and gives every label its address. Pass 2 evaluates the operands, now that every
symbol is known, and encodes with `vcpu.isa.encode`. A bad line is reported and skipped, so
one run reports every independent error.

Directives (case-insensitive): `.equ NAME, expr`, `.org addr`, `.word e, ...`,
`.half e, ...`, `.byte e, ...`, `.ascii "s", ...`, `.asciz "s", ...`, `.space n [, fill]`,
`.align n` (n bytes, a power of two), `.include "file.s"` (relative to the including file),
`.entry expr`, `.macro` / `.endm` (see `asm.macros`). The values of `.org`, `.space` and
`.align` fix addresses, so they may only use symbols defined above them.
"""
from __future__ import annotations

import bisect
import functools
import os
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from vcpu import isa
from vcpu.image import CODE, CONST, DATA, IN_MACRO, Image, LineRow, Symbol

from . import macros
from .source import read_source
from .errors import MAX_ERRORS, AsmError, Diagnostic, LineError, Location, did_you_mean, short
from .expr import Num, Reg, Sym, evaluate
from .source import iter_lines
from .syntax import Mem, Str, parse_line

INT32_MIN = -(1 << 31)
UINT32_MAX = (1 << 32) - 1
ADDRESS_LIMIT = 1 << 32
MAX_SPACE = 16 << 20          # one .space / .align / .org gap
MAX_IMAGE = 64 << 20          # all the bytes of one image
MAX_INCLUDE_DEPTH = 32
MAX_LINES = 1_000_000         # lines read, counting each .include and macro expansion
MAX_TOTAL_SOURCE = 64 << 20   # bytes read, counting each .include
MAX_LINE = 64 * 1024          # characters; longer lines are refused before parsing

CONTROL_REGISTERS = {cr.name: cr.value for cr in isa.CR}
REGISTER_LIST = sorted(isa.REGISTER_NAMES, key=lambda r: (len(r), r))
DATA_WIDTHS = {".word": (4, INT32_MIN, UINT32_MAX), ".half": (2, -(1 << 15), (1 << 16) - 1),
               ".byte": (1, -(1 << 7), (1 << 8) - 1)}
DIRECTIVES = (".equ", ".org", ".word", ".half", ".byte", ".ascii", ".asciz", ".space", ".align",
              ".include", ".entry", ".macro", ".endm")
DATA_DIRECTIVES = frozenset((".word", ".half", ".byte", ".ascii", ".asciz", ".space"))

KIND_TEXT = {"reg": "a register", "cr": "a control register", "mem": "a memory operand [ra + offset]",
             "imm": "a value", "target": "a label or address", "port": "a port number (0..255)"}


@dataclass
class Record:
    """One source line as the listing shows it."""
    file: str
    line: int
    text: str
    address: int | None = None
    data: bytes = b""
    instr: isa.Instr | None = None
    depth: int = 0               # > 0 inside a macro expansion


@dataclass(slots=True)
class _Item:
    """Something pass 2 turns into bytes: `size` bytes at `offset` in segment `segment`
    (only what pass 1 could not encode: a symbol defined further on, an .equ, an error)."""
    loc: Location
    offset: int
    size: int
    segment: int
    instr: isa.Instr | None = None
    fixed: dict = field(default_factory=dict)       # register fields, known in pass 1
    exprs: list = field(default_factory=list)       # (field, kind, node)
    directive: str = ""
    record: Record | None = None
    notes: list = field(default_factory=list)


@dataclass
class Assembly:
    image: Image
    records: list[Record]


_NO_FIELDS: dict = {}


class _Segment:
    __slots__ = ("start", "size", "loc", "data")

    def __init__(self, start: int, loc: Location | None):
        self.start = start
        self.size = 0
        self.loc = loc
        self.data = bytearray()      # pass 1 writes what it can encode, zeros for the rest


class _Later(Exception):
    """Pass 1 cannot encode this line yet: pass 2 will."""


def _known_label(labels):
    """A symbol lookup for pass 1's early encoding: labels defined above only (their
    addresses never change); anything else waits for pass 2."""
    def lookup(sym):
        hit = labels.get(sym.name)
        if hit is None:
            raise _Later()
        return hit[0]
    return lookup


class _Skip(Exception):
    """A value depends on a definition that already failed: stay quiet, it was reported."""


def assemble(text: str, filename: str = "<input>", *, listing: bool = False) -> Image:
    """Assemble source text; `.include` paths are relative to `filename`'s directory."""
    return Assembler(listing=listing).run_text(text, filename).image


def assemble_file(path: str | os.PathLike, *, listing: bool = False) -> Image:
    return Assembler(listing=listing).run_file(path).image


def assemble_with_records(path_or_text: str, filename: str | None = None) -> Assembly:
    """Assemble a file (or `text` named `filename`) and keep one Record per line."""
    a = Assembler(listing=True)
    if filename is None:
        return a.run_file(path_or_text)
    return a.run_text(path_or_text, filename)


# Directories searched for an `.include` not found beside the including file (`-I DIR`):
# the commands that take sources set it for the duration of one command (hv/cli.py).
INCLUDE_PATH: list[str] = []


class Assembler:
    def __init__(self, listing: bool = False):
        self.listing = listing
        self.include_path = list(INCLUDE_PATH)
        self.records: list[Record] = []
        self.diagnostics: list[Diagnostic] = []
        self.labels: dict[str, tuple[int, Location]] = {}
        self.label_kinds: dict[str, int] = {}
        self.label_order: list[str] = []
        self.equs: dict[str, tuple[object, Location]] = {}
        self.equ_values: dict[str, int] = {}
        self.failed: set[str] = set()
        self.evaluating: list[str] = []
        self.macros: dict[str, macros.Macro] = {}
        self.defining: macros.Macro | None = None
        self.macro_serial = 0
        self.include_stack: list[str] = []
        self.lines_read = 0
        # Parsed lines are never changed afterwards, so repeated lines (macro bodies, common
        # instructions) are parsed once: a source that expands one macro a million times
        # costs a million lookups, not a million parses. Small, and dropped with the assembly.
        self._parse = functools.lru_cache(maxsize=512)(parse_line)
        self.source_bytes = 0
        self.items: list[_Item] = []
        self.segments: list[_Segment] = [_Segment(0, None)]
        self.pc = 0
        self.total = 0
        self.pending_labels: list[str] = []
        self.entry: tuple[object, Location] | None = None
        self.first_instruction: int | None = None
        self.pass2 = False
        self._src = ("<input>", 0, 1, 0)
        self.file_index: dict[str, int] = {}
        # The line table as flat numbers (address, file, line, column, flags per row): a
        # LineRow object per row is made once, for the image, after pass 2 let go of its items.
        self.line_rows = array("q")
        self._early = _known_label(self.labels)

    # --- entry points ------------------------------------------------------------------

    def run_file(self, path) -> Assembly:
        path = os.fspath(path)
        try:
            source = [read_source(path)]
        except OSError as e:
            raise AsmError([Diagnostic(path, 0, 0, f"cannot read: {_os_reason(e)}")]) from None
        return self._run(source, path)

    def run_text(self, text: str, filename: str = "<input>") -> Assembly:
        return self._run([text.encode("utf-8", "surrogateescape")], filename)

    def _run(self, source: list, filename: str) -> Assembly:
        """`source`: [the bytes], handed over so that they are let go once decoded."""
        self.main_file = filename
        self._read(source.pop(), filename)
        if self.defining is not None:
            m = self.defining
            self._error(Location(m.file, m.line, 1, m.header), f"macro '{m.name}' has no .endm")
            self.defining = None
        self._settle_pending(DATA)
        self._second_pass()
        image = self._image()
        if self.diagnostics:
            raise AsmError(self._in_source_order(self.diagnostics))
        return Assembly(image, self.records)

    @staticmethod
    def _in_source_order(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        files = {}
        for d in diagnostics:
            files.setdefault(d.file, len(files))
        return sorted(diagnostics, key=lambda d: (files[d.file], d.line))

    # --- diagnostics -------------------------------------------------------------------

    def _error(self, loc: Location, message: str, col: int | None = None, notes=()) -> None:
        d = Diagnostic.at(loc, message, col)
        d.notes = _expansion_notes(notes) if isinstance(notes, tuple) else list(notes)
        self.diagnostics.append(d)
        if len(self.diagnostics) >= MAX_ERRORS:
            self.diagnostics.append(Diagnostic(loc.file, 0, 0, "too many errors; stopping"))
            raise AsmError(self.diagnostics)

    # --- pass 1: lines -----------------------------------------------------------------

    def _read(self, raw: bytes, filename: str, expansion: tuple = ()) -> None:
        lines, problems, empty = iter_lines(raw, filename)
        del raw                         # the lines hold what they need
        for d in problems:
            self.diagnostics.append(d)
        if empty and not self.include_stack and not problems:
            self.diagnostics.append(Diagnostic(filename, 0, 0, "nothing to assemble: the file is empty"))
            return
        self.include_stack.append(os.path.realpath(filename) if filename[:1] != "<" else filename)
        try:
            for number, text in enumerate(lines, 1):
                self._line(text, filename, number, expansion)
        finally:
            self.include_stack.pop()

    def _stop(self, loc: Location, message: str, col: int | None = None) -> None:
        """An error that ends the assembly at once (a limit that protects the host)."""
        self.diagnostics.append(Diagnostic.at(loc, message, col))
        raise AsmError(self._in_source_order(self.diagnostics))

    def _line(self, text: str, filename: str, number: int, expansion: tuple) -> None:
        loc = Location(filename, number, 1, text)
        self.lines_read += 1
        if self.lines_read > MAX_LINES:
            self._stop(loc, f"more than {MAX_LINES:,} lines after .include and macro "
                            "expansion (is something expanding itself over and over?)")
        if self.defining is not None:
            self._macro_body_line(text, loc)
            return
        record = None
        if self.listing:
            record = Record(filename, number, text, self.pc, depth=len(expansion))
            self.records.append(record)
        notes = expansion        # made into notes only if this line has an error
        try:
            if len(text) > MAX_LINE:
                # A long comment is harmless; long code would only be slow to reject.
                code = macros.strip_comment(text[:MAX_LINE])
                if len(code) == MAX_LINE:
                    raise LineError(f"line too long ({len(text)} characters; the limit is "
                                    f"{MAX_LINE})", 1)
                text = code
            if self.macros and self._maybe_macro_call(text, loc, expansion):
                return
            if ".macro" in text.lower() and macros.MACRO_START.match(text):
                self._start_macro(text, loc)
                return
            line = self._parse(text)
            for name, col in line.labels:
                self._define_label(name, loc, col)
            stmt = line.statement
            if stmt is None:
                return
            # Where the bytes of this line come from, for the line table: the line itself,
            # or inside a macro the outermost call (the line a person wrote).
            if expansion:
                outer = expansion[0][1]
                self._src = (outer.file, outer.line, outer.col, IN_MACRO)
            else:
                self._src = (filename, number, stmt.col, 0)
            if stmt.kind == "directive":
                self._directive(stmt, loc, expansion, record, notes)
            else:
                self._instruction(stmt, loc, record, notes)
        except LineError as e:
            if e.message:
                self._error(loc, e.message, e.col, notes)

    # --- labels and symbols ------------------------------------------------------------

    def _define_label(self, name: str, loc: Location, col: int) -> None:
        self._check_new_symbol(name, loc, col)
        self.labels[name] = (self.pc, loc.file, loc.line, col)    # no Location kept per label
        self.label_order.append(name)
        self.pending_labels.append(name)

    def _check_new_symbol(self, name: str, loc: Location, col: int) -> None:
        first = self.labels.get(name)
        first = (Location(*first[1:]) if first
                 else (self.equs[name][1] if name in self.equs else None))
        if first is not None:
            raise LineError(f"duplicate symbol '{short(name)}' (first defined at "
                            f"{first.file}:{first.line})", col)

    def _settle_pending(self, kind: int) -> None:
        for name in self.pending_labels:
            self.label_kinds[name] = kind
        self.pending_labels.clear()

    def _lookup(self, sym: Sym) -> int:
        name = sym.name
        hit = self.labels.get(name)
        if hit is not None:
            return hit[0]
        if name in self.equ_values:
            return self.equ_values[name]
        if name in self.failed:
            raise _Skip()
        if name in self.equs:
            return self._equ_value(name, sym)
        if not self.pass2:
            raise LineError(f"undefined symbol '{short(name)}' (this value fixes an address, so it may "
                            f"only use symbols defined above it)", sym.col)
        if name.lower() in isa.REGISTER_NAMES:
            raise LineError(f"register '{name}' cannot be part of an expression", sym.col)
        raise LineError(f"undefined symbol '{short(name)}'"
                        + did_you_mean(name, list(self.labels) + list(self.equs)), sym.col)

    def _equ_value(self, name: str, sym: Sym) -> int:
        if name in self.evaluating:
            cycle = self.evaluating[self.evaluating.index(name):] + [name]
            raise LineError(f"cyclic definition: {' -> '.join(cycle)}", sym.col)
        node, loc = self.equs[name]
        self.evaluating.append(name)
        try:
            value = evaluate(node, self._lookup)
        except LineError as e:
            if not self.pass2:
                # An address-fixing value needs this constant now: say which one failed.
                raise LineError(f"'{name}' cannot be computed here: {e.message}", sym.col) from None
            # Report the problem once, at the definition; every use of it stays quiet.
            self._error(loc, e.message, e.col)
            self.failed.add(name)
            raise _Skip() from None
        except _Skip:
            if self.pass2:
                self.failed.add(name)
            raise
        finally:
            self.evaluating.pop()
        self.equ_values[name] = value
        return value

    def _value(self, node) -> int:
        return evaluate(node, self._lookup)

    # --- directives --------------------------------------------------------------------

    def _directive(self, stmt, loc: Location, expansion, record, notes) -> None:
        name, ops = stmt.name, stmt.operands
        if name in DATA_WIDTHS:
            width, lo, hi = DATA_WIDTHS[name]
            if not ops:
                raise LineError(f"{name} needs at least one value", stmt.col)
            for op in ops:
                _expect_expression(op, name)
            self._emit(loc, width * len(ops), record, notes, directive=name,
                       exprs=[(None, name, op) for op in ops])
        elif name in (".ascii", ".asciz"):
            if not ops:
                raise LineError(f"{name} needs a string", stmt.col)
            data = b""
            for op in ops:
                if type(op) is not Str:
                    raise LineError(f"{name} takes strings in double quotes", op.col)
                data += op.data + (b"\0" if name == ".asciz" else b"")
            self._emit(loc, len(data), record, notes, directive=name, exprs=[(None, "bytes", data)])
        elif name == ".space":
            if not 1 <= len(ops) <= 2:
                raise LineError(".space takes a size and an optional fill byte", stmt.col)
            n = self._address_value(ops[0], ".space size")
            if n < 0:
                raise LineError(f".space size {n} is negative", ops[0].col)
            if n > MAX_SPACE:
                raise LineError(f".space {n} is too large (the limit is {MAX_SPACE >> 20} MiB)",
                                ops[0].col)
            fill = ops[1] if len(ops) > 1 else Num(0, stmt.col)
            self._emit(loc, n, record, notes, directive=".space", exprs=[(None, ".fill", fill)])
        elif name == ".align":
            if len(ops) != 1:
                raise LineError(".align takes one value (a power of two)", stmt.col)
            n = self._address_value(ops[0], ".align")
            if n <= 0 or n & (n - 1) or n > 1 << 16:
                raise LineError(f".align {n}: must be a power of two from 1 to 65536", ops[0].col)
            pad = -self.pc % n
            if pad:
                self._emit(loc, pad, record, notes, directive=".align",
                           exprs=[(None, ".fill", Num(0, stmt.col))], settle=False)
        elif name == ".org":
            if len(ops) != 1:
                raise LineError(".org takes one address", stmt.col)
            addr = self._address_value(ops[0], ".org")
            if not 0 <= addr < ADDRESS_LIMIT:
                raise LineError(f".org 0x{addr:x}: outside the 32-bit address space", ops[0].col)
            self._settle_pending(DATA)
            self.pc = addr
            self.segments.append(_Segment(addr, Location(loc.file, loc.line, stmt.col, loc.text)))
            if record is not None:
                record.address = addr
        elif name == ".equ":
            if len(ops) != 2 or type(ops[0]) is not Sym:
                raise LineError(".equ takes a name and a value: .equ NAME, expr",
                                ops[0].col if ops else stmt.col)
            sym = ops[0]
            _expect_expression(ops[1], ".equ")
            prev = self.equs.get(sym.name)
            if prev is not None and (prev[1].file, prev[1].line) == (loc.file, loc.line):
                return    # the same line again: a file such as lib/hw.s included twice
            self._check_new_symbol(sym.name, loc, sym.col)
            self.equs[sym.name] = (ops[1], Location(loc.file, loc.line, sym.col, loc.text))
        elif name == ".entry":
            if len(ops) != 1:
                raise LineError(".entry takes one label or address", stmt.col)
            _expect_expression(ops[0], ".entry")
            if self.entry is not None:
                first = self.entry[1]
                raise LineError(f"second .entry (the first is at {first.file}:{first.line})",
                                stmt.col)
            self.entry = (ops[0], Location(loc.file, loc.line, ops[0].col, loc.text))
        elif name == ".include":
            if len(ops) != 1 or type(ops[0]) is not Str:
                raise LineError('.include takes a file name in quotes: .include "file.s"',
                                ops[0].col if ops else stmt.col)
            self._include(ops[0], loc, expansion)
        elif name == ".endm":
            raise LineError(".endm without .macro", stmt.col)
        else:
            raise LineError(f"unknown directive '{short(stmt.spelling)}'" + did_you_mean(name, DIRECTIVES),
                            stmt.col)

    def _address_value(self, node, what: str) -> int:
        _expect_expression(node, what)
        try:
            return self._value(node)
        except _Skip:
            raise LineError("", None) from None

    def _include(self, op: Str, loc: Location, expansion) -> None:
        try:
            name = op.data.decode()
        except UnicodeDecodeError:
            raise LineError("include file name is not valid UTF-8", op.col) from None
        base = os.path.dirname(loc.file) if loc.file[:1] != "<" else "."
        path = os.path.join(base, name)
        if not os.path.isabs(name) and not os.path.exists(path):
            for d in self.include_path:         # then each -I directory, in order
                if os.path.exists(os.path.join(d, name)):
                    path = os.path.join(d, name)
                    break
        real = os.path.realpath(path)
        if real in self.include_stack:
            chain = " -> ".join(os.path.basename(p) for p in self.include_stack[self.include_stack.index(real):])
            raise LineError(f"recursive .include: {chain} -> {os.path.basename(real)}", op.col)
        if len(self.include_stack) >= MAX_INCLUDE_DEPTH:
            raise LineError(f".include nested more than {MAX_INCLUDE_DEPTH} deep", op.col)
        try:
            raw = read_source(path)
        except OSError as e:
            raise LineError(f"cannot include '{name}': {_os_reason(e)}", op.col) from None
        self.source_bytes += len(raw)
        if self.source_bytes > MAX_TOTAL_SOURCE:
            self._stop(loc, f"more than {MAX_TOTAL_SOURCE >> 20} MiB of source read through "
                            ".include", op.col)
        self._read(raw, path, expansion)

    # --- macros ------------------------------------------------------------------------

    def _start_macro(self, text: str, loc: Location) -> None:
        name, params, col = macros.parse_header(text)
        key = name.lower()
        if key in isa.BY_MNEMONIC:
            raise LineError(f"macro '{name}' would hide the instruction '{key}'", col)
        if key in self.macros:
            first = self.macros[key]
            raise LineError(f"duplicate macro '{name}' (first defined at {first.file}:{first.line})",
                            col)
        self.defining = macros.Macro(name, params, loc.file, loc.line, header=text)

    def _macro_body_line(self, text: str, loc: Location) -> None:
        m = self.defining
        if macros.MACRO_END.match(text):
            self.macros[m.name.lower()] = m
            self.defining = None
            return
        if macros.MACRO_START.match(text):
            self._error(loc, "a macro cannot be defined inside another macro", text.find(".") + 1)
            return
        bad = macros.unknown_reference(text, m.params)
        if bad:
            self._error(loc, f"'\\{bad[0]}' is not a parameter of macro '{m.name}'"
                        + did_you_mean(bad[0], m.params), bad[1])
        m.body.append((text, loc.file, loc.line))

    def _maybe_macro_call(self, text: str, loc: Location, expansion: tuple) -> bool:
        head = macros.HEAD.match(text)
        if head is None:
            return False
        macro = self.macros.get(head.group(2).lower())
        if macro is None or text[head.end():head.end() + 1] == ":":
            return False
        if head.group(1):
            for name, col in _labels_of(head.group(1), text):
                self._define_label(name, loc, col)
        col = head.start(2) + 1
        names = [m.name.lower() for m, _ in expansion]
        if macro.name.lower() in names:
            chain = [m.name for m, _ in expansion][names.index(macro.name.lower()):] + [macro.name]
            raise LineError(f"recursive macro expansion: {' -> '.join(chain)}", col)
        if len(expansion) >= macros.MAX_DEPTH:
            raise LineError(f"macros nested more than {macros.MAX_DEPTH} deep", col)
        args = macros.split_arguments(text[head.end():], head.end() + 1)
        self.macro_serial += 1
        body = macros.expand(macro, args, self.macro_serial, col)
        inner = expansion + ((macro, Location(loc.file, loc.line, col, loc.text)),)
        for body_text, file, line in body:
            self._line(body_text, file, line, inner)
        return True

    # --- instructions ------------------------------------------------------------------

    def _instruction(self, stmt, loc: Location, record, notes) -> None:
        forms = isa.BY_MNEMONIC.get(stmt.name)
        if forms is None:
            candidates = isa.MNEMONICS + [m.name for m in self.macros.values()]
            hint = did_you_mean(stmt.name, candidates)
            if not hint and stmt.name.startswith("."):
                hint = did_you_mean(stmt.name, DIRECTIVES)
            raise LineError(f"unknown mnemonic '{short(stmt.spelling)}'{hint}", stmt.col)
        instr = _select_form(stmt, forms)
        fixed, exprs = {}, []
        for (kind, fld), op in zip(instr.syntax, stmt.operands):
            if kind == "reg":
                fixed[fld] = op.num
            elif kind == "cr":
                fixed[fld] = CONTROL_REGISTERS[op.name.lower()]
            elif kind == "mem":
                fixed["y"] = op.base
                exprs.append(("imm", "mem", op.offset))
            else:
                exprs.append((fld, kind, op))
        if self.first_instruction is None:
            self.first_instruction = self.pc
        self._emit(loc, instr.length, record, notes, instr=instr, fixed=fixed, exprs=exprs,
                   kind=CODE)

    # --- emitting ----------------------------------------------------------------------

    def _emit(self, loc, size, record, notes, *, instr=None, fixed=None, exprs=(), directive="",
              kind=DATA, settle=True) -> None:
        if self.pc + size > ADDRESS_LIMIT:
            raise LineError(f"address 0x{self.pc + size:x} is past the end of the 32-bit "
                            f"address space", 1)
        self.total += size
        if self.total > MAX_IMAGE:
            raise LineError(f"the image would be larger than {MAX_IMAGE >> 20} MiB", 1)
        if settle and self.pending_labels:
            self._settle_pending(kind)
        if size:
            file, line, col, flags = self._src
            fi = self.file_index.get(file)
            if fi is None:
                fi = self.file_index[file] = len(self.file_index)
            self.line_rows.extend((self.pc, fi, line, col, flags))
        seg = self.segments[-1]
        # Encode now when every value is known (numbers, labels above): most lines are, and
        # then nothing of the line is kept. Only the others become items for pass 2 (one per
        # line of source: their size is the assembler's memory).
        exprs = tuple(exprs)
        try:
            data = self._encode_parts(instr, fixed or _NO_FIELDS, exprs, directive, size,
                                      self._early)
        except (_Later, LineError):         # a later symbol, or an error pass 2 reports
            data = None
        if data is None:
            self.items.append(_Item(loc, len(seg.data), size, len(self.segments) - 1, instr,
                                    fixed or _NO_FIELDS, exprs, directive, record, notes))
            seg.data += bytes(size)
        else:
            seg.data += data
        if record is not None:
            record.address = self.pc
            record.instr = instr
            if data is not None:
                record.data = data
        seg.size += size
        self.pc += size

    # --- pass 2 ------------------------------------------------------------------------

    def _second_pass(self) -> None:
        self.pass2 = True
        for name, (node, loc) in self.equs.items():
            if name in self.equ_values or name in self.failed:
                continue
            try:
                self._equ_value(name, Sym(name, loc.col))
            except _Skip:
                pass
        items, self.items = self.items, []
        for item in items:
            try:
                data = self._encode_parts(item.instr, item.fixed, item.exprs, item.directive,
                                          item.size, self._lookup)
            except LineError as e:
                if e.message:
                    self._error(item.loc, e.message, e.col, item.notes)
                data = bytes(item.size)
            except _Skip:
                data = bytes(item.size)
            seg = self.segments[item.segment]
            seg.data[item.offset:item.offset + item.size] = data
            if item.record is not None:
                item.record.data = data

    @staticmethod
    def _encode_parts(instr, fixed, exprs, d, size, lookup) -> bytes:
        if instr is not None:
            fields = dict(fixed)
            for fld, kind, node in exprs:
                value = node.value if type(node) is Num else evaluate(node, lookup)
                fields[fld] = _check_operand(kind, value, node)
            return isa.encode(instr, **fields)
        if d in DATA_WIDTHS:
            width, lo, hi = DATA_WIDTHS[d]
            out = bytearray()
            for _, _, node in exprs:
                value = node.value if type(node) is Num else evaluate(node, lookup)
                if not lo <= value <= hi:
                    raise LineError(f"{d} value {value} out of range ({lo}..{hi})", node.col)
                out += (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
            return bytes(out)
        if d in (".ascii", ".asciz"):
            return exprs[0][2]
        # .space and .align: `size` bytes of a fill value
        node = exprs[0][2]
        fill = node.value if type(node) is Num else evaluate(node, lookup)
        if not -128 <= fill <= 255:
            raise LineError(f"fill value {fill} out of range (-128..255)", node.col)
        return bytes([fill & 0xFF]) * size

    # --- the image ---------------------------------------------------------------------

    def _image(self) -> Image:
        segments = [s for s in self.segments if s.size]
        if not segments and not self.diagnostics:
            self.diagnostics.append(Diagnostic(self.main_file, 0, 0,
                                               "nothing to assemble: no instructions or data"))
        self._check_overlaps(segments)
        entry = 0
        if self.entry is not None:
            node, loc = self.entry
            try:
                entry = self._value(node)
                if not 0 <= entry <= UINT32_MAX:
                    raise LineError(f".entry 0x{entry:x} is outside the 32-bit address space",
                                    loc.col)
            except LineError as e:
                self._error(loc, e.message, e.col)
                entry = 0
            except _Skip:
                entry = 0
        elif self.first_instruction is not None:
            entry = self.first_instruction
        elif segments:
            entry = segments[0].start
        symbols = [Symbol(n, self.labels[n][0], self.label_kinds.get(n, DATA))
                   for n in self.label_order]
        # The symbol table is made: let go of pass 1's labels before the line table is made.
        self.label_order, self.label_kinds = [], {}
        self.labels.clear()
        _label_sizes(symbols, segments)
        symbols += [Symbol(n, v & UINT32_MAX, CONST) for n, v in self.equ_values.items()
                    if n in self.equs]
        flat, self.line_rows = self.line_rows, array("q")
        addrs = flat[0::5]
        if any(a > b for a, b in zip(addrs, addrs[1:])):     # .org went back: sort (stable)
            del addrs
            order = sorted(range(0, len(flat), 5), key=flat.__getitem__)
            rows = [LineRow(*flat[i:i + 5]) for i in order]
            del flat, order
        else:
            # In address order already: made from the end, a block at a time, the numbers
            # shrinking as the rows grow, so the table is not held twice.
            del addrs
            rows = []
            while flat:
                k = min(len(flat), 5 * 4096)
                block = flat[-k:]
                del flat[-k:]
                rows.extend(LineRow(*block[i:i + 5]) for i in range(k - 5, -1, -5))
            rows.reverse()
        return Image(entry=entry, segments=[(s.start, bytes(s.data)) for s in segments],
                     symbols=symbols, files=list(self.file_index), lines=rows)

    def _check_overlaps(self, segments: list[_Segment]) -> None:
        ordered = sorted(segments, key=lambda s: s.start)
        for a, b in zip(ordered, ordered[1:]):
            if b.start < a.start + a.size:
                later = b if (b.loc and a.loc is None) or _seq(b, segments) > _seq(a, segments) else a
                other = a if later is b else b
                where = (f" (.org at {other.loc.file}:{other.loc.line})" if other.loc else "")
                msg = (f"overlapping code or data: 0x{later.start:x}..0x{later.start + later.size:x}"
                       f" overlaps 0x{other.start:x}..0x{other.start + other.size:x}{where}")
                loc = later.loc or Location(self.main_file, 0, 0)
                self._error(loc, msg)


def _label_sizes(symbols: list[Symbol], segments: list[_Segment]) -> None:
    """A label's size: up to the next label at a higher address in its segment, or to the
    segment's end (0 for a label outside every segment)."""
    spans = sorted((s.start, s.start + s.size) for s in segments)
    addrs = sorted({s.value for s in symbols})
    for sym in symbols:
        seg = next(((a, b) for a, b in spans if a <= sym.value < b), None)
        if seg is None:
            continue
        i = bisect.bisect_right(addrs, sym.value)
        nxt = addrs[i] if i < len(addrs) else seg[1]
        sym.size = min(nxt, seg[1]) - sym.value


def _seq(seg, segments) -> int:
    return segments.index(seg)


def _labels_of(prefix: str, text: str):
    for m in re.finditer(r"([A-Za-z_]\w*)\s*:", prefix):
        yield m.group(1), m.start(1) + 1


def _expansion_notes(expansion) -> list[Diagnostic]:
    return [Diagnostic(loc.file, loc.line, loc.col, f"in expansion of macro '{m.name}'",
                       severity="note") for m, loc in reversed(expansion)]


def _expect_expression(op, what: str) -> None:
    t = type(op)
    if t is Reg:
        raise LineError(f"{what} takes a value, not the register '{op.name}'", op.col)
    if t is Mem:
        raise LineError(f"{what} takes a value, not a memory operand", op.col)
    if t is Str:
        raise LineError(f"{what} takes a value, not a string", op.col)


def _check_operand(kind: str, value: int, node) -> int:
    if kind == "port":
        if not 0 <= value <= 255:
            raise LineError(f"port {value} out of range (0..255)", node.col)
    elif not INT32_MIN <= value <= UINT32_MAX:
        what = {"imm": "immediate", "target": "address", "mem": "offset"}[kind]
        raise LineError(f"{what} {value} out of range (it must fit in 32 bits: "
                        f"{INT32_MIN}..{UINT32_MAX})", node.col)
    return value


def _describe(op) -> str:
    t = type(op)
    if t is Reg:
        return f"the register '{op.name}'"
    if t is Mem:
        return "a memory operand"
    if t is Str:
        return "a string"
    if t is Num:
        return f"the number {op.value}"
    if t is Sym:
        return f"'{short(op.name)}'"
    return "an expression"


def _matches(kind: str, op) -> bool:
    t = type(op)
    if kind == "reg":
        return t is Reg
    if kind == "mem":
        return t is Mem
    if kind == "cr":
        return t is Sym and op.name.lower() in CONTROL_REGISTERS
    return t is not Reg and t is not Mem and t is not Str


def _usage(forms) -> str:
    return " | ".join(f"{f.mnemonic} {f.operands}".strip() for f in forms)


def _select_form(stmt, forms) -> isa.Instr:
    ops = stmt.operands
    for instr in forms:
        if len(instr.syntax) == len(ops) and all(_matches(k, op) for (k, _), op in zip(instr.syntax, ops)):
            return instr
    same_count = [f for f in forms if len(f.syntax) == len(ops)]
    if not same_count:
        counts = sorted({len(f.syntax) for f in forms})
        want = " or ".join(str(c) for c in counts)
        plural = "s" if counts[-1] != 1 else ""
        col = ops[counts[-1]].col if len(ops) > counts[-1] else stmt.col
        raise LineError(f"'{stmt.name}' takes {want} operand{plural}, got {len(ops)} "
                        f"(usage: {_usage(forms)})", col)
    # Report the first operand that no form of this size accepts.
    for i, op in enumerate(ops):
        kinds = [f.syntax[i][0] for f in same_count]
        if any(_matches(k, op) for k in kinds):
            continue
        message = _kind_mismatch(kinds, op, i + 1)
        if "did you mean" not in message:
            message += f" (usage: {_usage(forms)})"
        raise LineError(message, op.col)
    # Each operand fits some form, but no form fits them all (e.g. mixed forms).
    raise LineError(f"no form of '{stmt.name}' takes these operands (usage: {_usage(forms)})",
                    stmt.col)


def _kind_mismatch(kinds: list[str], op, position: int) -> str:
    t = type(op)
    if "reg" in kinds and t is Sym:
        low = op.name.lower()
        if low[:1] == "r" and low[1:].isdigit():
            return f"there is no register '{short(op.name)}' (registers are r0..r15 and sp)"
        if "cr" not in kinds:
            return f"expected a register, got '{short(op.name)}'" + did_you_mean(op.name, REGISTER_LIST)
    if "cr" in kinds and t is Sym:
        return (f"unknown control register '{short(op.name)}'"
                + (did_you_mean(op.name, list(CONTROL_REGISTERS))
                   or f" (control registers: {', '.join(CONTROL_REGISTERS)})"))
    want = " or ".join(dict.fromkeys(KIND_TEXT[k] for k in kinds))
    return f"operand {position}: expected {want}, got {_describe(op)}"


def _os_reason(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "is a directory"
    if isinstance(e, PermissionError):
        return "permission denied"
    return e.strerror or str(e)
