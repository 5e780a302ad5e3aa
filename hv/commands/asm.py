"""`hv asm SOURCE.s [-o IMAGE] [--listing]`: assemble."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..common import add_include_arg, fail


def register(sub) -> None:
    a = sub.add_parser(
        "asm", help="assemble a source file into an image",
        description="Assemble SOURCE.s into an image file. Errors are reported as "
                    "file:line:col with the source line and a caret.")
    a.add_argument("source", metavar="SOURCE.s")
    a.add_argument("-o", "--output", metavar="IMAGE",
                   help="image file to write (default: SOURCE with .img)")
    a.add_argument("--listing", action="store_true",
                   help="print a listing (address, bytes, privilege class, source) to stdout")
    add_include_arg(a)
    a.set_defaults(func=cmd_asm)


def cmd_asm(args) -> int:
    from asm.assembler import assemble_with_records
    from asm.listing import listing
    if not os.path.exists(args.source):      # a file that cannot be used: 2, as hv run
        return fail(f"{args.source}: no such file")
    if os.path.isdir(args.source):
        return fail(f"{args.source}: is a directory")
    output = args.output or str(Path(args.source).with_suffix(".img"))
    if os.path.abspath(output) == os.path.abspath(args.source):
        return fail(f"{output}: the image would overwrite the source (use -o)")
    assembly = assemble_with_records(args.source)     # AsmError -> exit 1 in hv.cli
    image = assembly.image
    try:
        Path(output).write_bytes(image.to_bytes())
    except OSError as e:
        return fail(f"{output}: {e.strerror or e}")
    if args.listing:
        sys.stdout.write(listing(assembly))
    size = sum(len(d) for _, d in image.segments)
    segs = len(image.segments)
    print(f"{args.source} -> {output}: {size} bytes in {segs} segment{'s' * (segs != 1)}, "
          f"entry 0x{image.entry:x}, {len(image.symbols)} symbols", file=sys.stderr)
    return 0
