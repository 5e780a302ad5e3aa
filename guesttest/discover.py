"""Finding guest test files, naming their runs, and assembling them."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from .defaults import DEFAULT_PATTERN

def is_guest_test(path: Path, pattern: str = DEFAULT_PATTERN) -> bool:
    return fnmatch.fnmatch(path.name, pattern)


def discover(paths, pattern: str = DEFAULT_PATTERN) -> list[Path]:
    """Guest test files under `paths`, in a stable order. A file named on the command line
    is taken whatever its name; directories are searched recursively for `pattern`
    (hidden directories and virtual environments are skipped). Raises FileNotFoundError
    for a path that does not exist."""
    found: list[Path] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(2, "no such file or directory", str(p))
        if p.is_file():
            files = [p]
        else:
            files = []
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                 and d not in ("__pycache__", "node_modules", ".venv"))
                files += [Path(root) / n for n in sorted(names)
                          if fnmatch.fnmatch(n, pattern)]
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                found.append(f)
    return found


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is under it, else absolute."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def test_id(path: Path | str, core: str, mode: str) -> str:
    return f"{path}::{core}-{mode}"


@dataclass
class LoadedTest:
    """An assembled guest test, or why it could not be assembled."""
    path: Path
    image: object = None
    records: list = field(default_factory=list)
    error: str | None = None
    # A test that is not one image on a bare machine (a user program under the teaching
    # OS): run(core, mode, max_steps) -> (output bytes, stop kind, status, message, icount).
    run: object = None

    def source_line(self, address: int) -> tuple[str, int, str] | None:
        """(file, line, text) of the top-level source line whose code holds `address`."""
        recs = [r for r in self.records if r.depth == 0 and r.address is not None]
        for i, r in enumerate(recs):
            nxt = recs[i + 1].address if i + 1 < len(recs) else None
            end = nxt if nxt is not None and nxt > r.address else r.address + len(r.data)
            if r.address <= address < end:
                return r.file, r.line, r.text.strip()
        return None


# Loaders for other kinds of guest test, tried first: each takes a path and returns a
# LoadedTest, or None when the file is not of its kind. The command line registers the
# teaching OS's (hv/commands/os.py: a source that includes user.s runs as pid 1).
LOADERS: list = []


def load_test(path: Path | str) -> LoadedTest:
    """Assemble a guest test source (or read an image); errors go in `.error`."""
    from asm.errors import AsmError
    from asm.loader import SOURCE_SUFFIXES, load_program
    from vcpu.image import ImageError
    path = Path(path)
    for loader in LOADERS:
        loaded = loader(path)
        if loaded is not None:
            return loaded
    try:
        if str(path).endswith(SOURCE_SUFFIXES):
            from asm.assembler import assemble_with_records
            from asm.loader import read_program_bytes
            read_program_bytes(path)            # a clean message for a missing file
            asm = assemble_with_records(str(path))
            return LoadedTest(path, asm.image, asm.records)
        return LoadedTest(path, load_program(path))
    except AsmError as e:
        return LoadedTest(path, error=str(e))
    except (ImageError, OSError) as e:
        return LoadedTest(path, error=str(e))
