"""The `hv asm` and `hv disasm` subcommands; `hypervisor.cli` registers them."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from vcpu.image import ImageError

from .errors import AsmError

EXIT_ASM_ERROR = 1
EXIT_USAGE = 2


def add_parsers(subparsers) -> None:
    a = subparsers.add_parser(
        "asm", help="assemble a source file into an image",
        description="Assemble SOURCE.s into an image file. Errors are reported as "
                    "file:line:col with the source line and a caret.")
    a.add_argument("source", metavar="SOURCE.s")
    a.add_argument("-o", "--output", metavar="IMAGE",
                   help="image file to write (default: SOURCE with .img)")
    a.add_argument("--listing", action="store_true",
                   help="print a listing (address, bytes, privilege class, source) to stdout")
    a.set_defaults(func=cmd_asm)

    d = subparsers.add_parser(
        "disasm", help="disassemble an image (or a source, after assembling it)",
        description="Print source that assembles back to the same bytes: .org per segment, "
                    ".entry, labels from the symbol table, symbolic jump and call targets.")
    d.add_argument("program", metavar="IMAGE|SOURCE.s")
    d.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    d.set_defaults(func=cmd_disasm)


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"hv: error: {message}", file=sys.stderr)
    return status


def cmd_asm(args) -> int:
    from .assembler import assemble_with_records
    from .listing import listing
    output = args.output or str(Path(args.source).with_suffix(".img"))
    if os.path.abspath(output) == os.path.abspath(args.source):
        return _fail(f"{output}: the image would overwrite the source (use -o)")
    try:
        assembly = assemble_with_records(args.source)
    except AsmError as e:
        sys.stdout.flush()
        print(str(e), file=sys.stderr)
        return EXIT_ASM_ERROR
    image = assembly.image
    try:
        Path(output).write_bytes(image.to_bytes())
    except OSError as e:
        return _fail(f"{output}: {e.strerror or e}")
    if args.listing:
        sys.stdout.write(listing(assembly))
    size = sum(len(d) for _, d in image.segments)
    segs = len(image.segments)
    print(f"{args.source} -> {output}: {size} bytes in {segs} segment{'s' * (segs != 1)}, "
          f"entry 0x{image.entry:x}, {len(image.symbols)} symbols", file=sys.stderr)
    return 0


def cmd_disasm(args) -> int:
    from .disasm import disassemble
    from .loader import load_program
    try:
        image = load_program(args.program)
    except AsmError as e:
        sys.stdout.flush()
        print(str(e), file=sys.stderr)
        return EXIT_ASM_ERROR
    except ImageError as e:
        return _fail(str(e))
    text = disassemble(image)
    if args.output:
        try:
            Path(args.output).write_text(text)
        except OSError as e:
            return _fail(f"{args.output}: {e.strerror or e}")
    else:
        sys.stdout.write(text)
    return 0
