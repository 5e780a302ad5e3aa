"""`hv disasm IMAGE|SOURCE.s [-o FILE]`: disassemble into source that re-assembles."""
from __future__ import annotations

import sys
from pathlib import Path

from ..common import fail, load_program


def register(sub) -> None:
    d = sub.add_parser(
        "disasm", help="disassemble an image (or a source, after assembling it)",
        description="Print source that assembles back to the same bytes: .org per segment, "
                    ".entry, labels from the symbol table, symbolic jump and call targets.")
    d.add_argument("program", metavar="IMAGE|SOURCE.s")
    d.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    d.add_argument("--source", action="store_true",
                   help="put each source line (from the image's line table) before the "
                        "instructions it produced, as a comment")
    d.set_defaults(func=cmd_disasm)


def cmd_disasm(args) -> int:
    from asm.disasm import disassemble
    text = disassemble(load_program(args.program), source=args.source)
    if args.output:
        try:
            Path(args.output).write_text(text)
        except OSError as e:
            return fail(f"{args.output}: {e.strerror or e}")
    else:
        sys.stdout.write(text)
    return 0
