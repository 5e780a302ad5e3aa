"""Loading a program: an image file, or a `.s` source assembled on the fly.

Errors, each with a one-line message (the `hv` command prints them without a traceback):
- `asm.errors.AsmError` for a source that does not assemble (all its diagnostics);
- `ProgramNotFound` (a `vcpu.image.ImageError`, so one `except ImageError` catches every
  "this file cannot be used" case) for a missing or unreadable file;
- `vcpu.image.ImageError` for a file that is not a valid image.
"""
from __future__ import annotations

import os
from pathlib import Path

from vcpu.image import MAGIC, Image, ImageError

from .assembler import assemble_file

SOURCE_SUFFIXES = (".s", ".asm", ".S")


class ProgramNotFound(ImageError):
    """The program file is missing or unreadable; the message names it."""


def is_source(path: str | os.PathLike, head: bytes | None = None) -> bool:
    """A `.s` file, or any file that does not start with the image magic."""
    if str(path).endswith(SOURCE_SUFFIXES):
        return True
    return head is not None and not head.startswith(MAGIC)


def read_program_bytes(path: str | os.PathLike) -> bytes:
    from .source import MAX_SOURCE, read_source
    try:
        # Images can be larger than sources (64 MiB of .space): the same guard, a larger limit.
        return read_source(path, limit=8 * MAX_SOURCE)
    except FileNotFoundError:
        raise ProgramNotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ProgramNotFound(f"{path}: is a directory") from None
    except PermissionError:
        raise ProgramNotFound(f"{path}: permission denied") from None
    except OSError as e:
        raise ProgramNotFound(f"{path}: {e.strerror or e}") from None


def load_program(path: str | os.PathLike) -> Image:
    """The image of `path`: assembled when it is a source, read when it is an image."""
    raw = read_program_bytes(path)
    if not raw and not str(path).endswith(SOURCE_SUFFIXES):
        raise ImageError(f"{path}: the file is empty: neither an hv image nor assembly source")
    if is_source(path, raw[:len(MAGIC)]):
        if str(path).endswith(SOURCE_SUFFIXES) or _looks_like_text(raw):
            return assemble_file(path)
    return Image.from_bytes(raw, str(path))


def _looks_like_text(raw: bytes) -> bool:
    # A file named anything that is neither an image nor text is a bad image, not bad source.
    sample = raw[:4096]
    return b"\0" not in sample
