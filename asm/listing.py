"""The assembly listing: each source line with its address, its bytes and, for an
instruction, its privilege class from `vcpu.isa` (innocuous, trapping, privileged), so a
reader sees at a glance which lines a hypervisor will have to emulate.

    address   bytes               class        line  source
    00000000  02 10 2c 00 00 00   innocuous       5  start: li r1, msg
"""
from __future__ import annotations

import os

from .assembler import Assembly, Record, assemble_with_records

_BYTES_SHOWN = 6          # the longest instruction; data continues on more rows
_MAX_ROWS = 4             # of one line's data; then "..."


def listing(assembly: Assembly | str | os.PathLike) -> str:
    """The listing of an `Assembly` (see `assemble_with_records`) or of a source file."""
    if not isinstance(assembly, Assembly):
        assembly = assemble_with_records(os.fspath(assembly))
    out = [f"{'address':<8}  {'bytes':<18}  {'class':<10}  {'line':>5}  source"]
    current_file = None
    for r in assembly.records:
        if r.file != current_file:
            current_file = r.file
            out.append(f"{'':<8}  {'':<18}  {'':<10}  {'':>5}  ; file {r.file}")
        out += _rows(r)
    return "\n".join(out) + "\n"


def _rows(r: Record) -> list[str]:
    addr = f"{r.address:08x}" if r.address is not None else ""
    klass = r.instr.klass if r.instr is not None else ""
    text = ("  " * r.depth) + r.text.rstrip()
    data = r.data
    first = data[:_BYTES_SHOWN]
    rows = [f"{addr:<8}  {_hex(first):<18}  {klass:<10}  {r.line:>5}  {text}"]
    rest = data[_BYTES_SHOWN:]
    offset = _BYTES_SHOWN
    while rest and len(rows) < _MAX_ROWS:
        chunk, rest = rest[:_BYTES_SHOWN], rest[_BYTES_SHOWN:]
        rows.append(f"{r.address + offset:08x}  {_hex(chunk):<18}")
        offset += len(chunk)
    if rest:
        rows.append(f"{'':<8}  ... ({len(rest)} more bytes)")
    return rows


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)
