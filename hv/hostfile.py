"""Which guests to boot, and how: `PATH[:key=value,...]` arguments and host files (TOML)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from typing import Annotated, Optional, Union

import msgspec

from vcpu.units import parse_size


@dataclass
class GuestSpec:
    """One guest of a host description."""
    program: str
    name: str = ""
    mem: int | None = None
    weight: int = 1
    disk: str | None = None
    cpus: int | None = None         # None: the command's --cpus
    quantum: int | None = None      # None: the command's --quantum


SPEC_KEYS = ("name", "mem", "weight", "disk", "cpus", "quantum")


def parse_guest_arg(text: str) -> GuestSpec:
    """`PATH[:key=value,...]`, e.g. `guests/kernel.s:mem=128K,weight=2,name=os`."""
    path, sep, opts = text.rpartition(":")
    if not sep or "=" not in opts:
        return GuestSpec(text)
    spec = GuestSpec(path)
    for item in opts.split(","):
        key, _, value = item.partition("=")
        _set(spec, key.strip(), value.strip(), text)
    return spec


def _set(spec: GuestSpec, key: str, value, where: str) -> None:
    if key not in SPEC_KEYS:
        raise ValueError(f"{where}: unknown guest setting {key!r} (use {', '.join(SPEC_KEYS)})")
    if key == "mem":
        spec.mem = value if isinstance(value, int) else parse_size(str(value))
    elif key == "weight":
        try:
            spec.weight = int(value)
        except ValueError:
            raise ValueError(f"{where}: weight must be a whole number, not {value!r}") from None
        if spec.weight < 1:
            raise ValueError(f"{where}: weight must be at least 1")
    elif key in ("cpus", "quantum"):
        from vcpu.isa import MAX_CPUS
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{where}: {key} must be a whole number, not {value!r}") from None
        hi = MAX_CPUS if key == "cpus" else None
        if n < 1 or (hi is not None and n > hi):
            raise ValueError(f"{where}: {key} must be " +
                             (f"1 to {hi}" if hi else "at least 1"))
        setattr(spec, key, n)
    elif key == "name":
        spec.name = check_name(str(value), where)
    else:
        if not str(value):
            raise ValueError(f"{where}: {key} is empty")
        setattr(spec, key, str(value))


# The host file's schema, checked with msgspec in strict mode: a wrong type is an error, never
# converted (`slice = true` is not 1, `weight = 2.5` is not 2), and an unknown key is an error,
# never ignored. See README.md ("Host files") for why msgspec.
Positive = Annotated[int, msgspec.Meta(ge=1)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
Size = Union[Text, Positive]


class HostSection(msgspec.Struct, forbid_unknown_fields=True):
    memory: Optional[Size] = None
    slice: Optional[Positive] = None


class GuestEntry(msgspec.Struct, forbid_unknown_fields=True):
    image: Text
    name: Optional[Text] = None
    mem: Optional[Size] = None
    weight: Positive = 1
    disk: Optional[Text] = None


class HostFile(msgspec.Struct, forbid_unknown_fields=True):
    host: Optional[HostSection] = None
    guest: list[GuestEntry] = []


def load_host_file(path: str) -> tuple[dict, list[GuestSpec]]:
    """A host description in TOML:

        [host]
        memory = "1M"        # the pool (default: what the guests need)
        slice = 10000

        [[guest]]
        image = "guests/kernel.s"
        name = "os"
        mem = "128K"
        weight = 2
        disk = "os.img"
    """
    import tomllib
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20 + 1)
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror or e}") from None
    if len(raw) > 1 << 20:
        raise ValueError(f"{path}: larger than 1 MiB: not a host description")
    try:
        text = raw.decode("utf-8")
        doc = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text (a host file is TOML)") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: {e}") from None
    try:
        cfg = msgspec.convert(doc, HostFile, strict=True)
    except msgspec.ValidationError as e:
        raise ValueError(_schema_error(path, text, str(e))) from None
    base = os.path.dirname(os.path.abspath(path))
    host: dict = {}
    if cfg.host is not None:
        if cfg.host.memory is not None:
            host["memory"] = _size(cfg.host.memory, path, text, "host", None, "memory")
        if cfg.host.slice is not None:
            host["slice"] = cfg.host.slice
    guests = []
    for i, g in enumerate(cfg.guest):
        spec = GuestSpec(os.path.join(base, g.image), weight=g.weight)
        if g.name is not None:
            spec.name = check_name(g.name, f"{path}:{_line(text, 'guest', i, 'name')}")
        if g.mem is not None:
            spec.mem = _size(g.mem, path, text, "guest", i, "mem")
        if g.disk is not None:
            spec.disk = os.path.join(base, g.disk)
        guests.append(spec)
    if not guests:
        raise ValueError(f"{path}: no [[guest]] entries (each guest is a [[guest]] table "
                         "with at least image = \"FILE\")")
    return host, guests


def _size(value, path, text, table, index, key) -> int:
    try:
        return value if isinstance(value, int) and value % 4096 == 0 and value <= 1 << 30 \
            else parse_size(str(value))
    except ValueError as e:
        raise ValueError(f"{path}:{_line(text, table, index, key)}: {_where(table, index)}"
                         f"{key}: {e}") from None


def _where(table, index) -> str:
    return "[host] " if table == "host" else (f"guest {index + 1}: " if index is not None else "")


_TYPE_WORDS = {"int": "a whole number", "str": "text", "bool": "true or false",
               "float": "a decimal number", "object": "a table", "array": "a list",
               "null": "nothing", "datetime": "a date", "date": "a date", "time": "a time"}


def _schema_error(path: str, text: str, message: str) -> str:
    """msgspec's 'Expected `int`, got `bool` - at `$.guest[0].weight`' as
    'FILE:LINE: guest 1: weight: expected a whole number, not true or false'."""
    import re
    what, _, at = message.partition(" - at ")
    m = re.fullmatch(r"`\$(?:\.(\w+))?(?:\[(\d+)\])?(?:\.(\w+))?`", at.strip())
    table, index, key = (m.group(1), m.group(2), m.group(3)) if m else (None, None, None)
    index = int(index) if index is not None else None
    unknown = re.match(r"Object contains unknown field `(\w+)`", what)
    expected = re.match(r"Expected `([^`]+)`(?:, got `([^`]+)`)?(.*)", what)
    if unknown:
        key = unknown.group(1)
        allowed = {"host": "memory, slice", "guest": "image, name, mem, weight, disk"}.get(
            table, "[host] and [[guest]]")
        what = f"unknown setting (use {allowed})"
        if table is None:
            table, key = key, None
    elif expected:
        want = [_TYPE_WORDS.get(t.strip(), t.strip()) for t in expected.group(1).split("|")
                if t.strip() != "null"]
        got = expected.group(2)
        rest = expected.group(3).strip()
        what = f"must be {' or '.join(want)}" + (f" {rest}" if rest else "")
        if got:
            what += f", not {_TYPE_WORDS.get(got, got)}"
    elif what.startswith("Object missing required field"):
        field = what.rsplit(" ", 1)[-1].replace("`", "")
        what = "no image (add image = \"FILE\")" if field == "image" else f"missing {field}"
    if table in (None,) and key:
        table, key = key, None
    if not m:
        if unknown:
            return f"{path}:{_line(text, table, None, None)}: {table}: {what}"
        return f"{path}: {what}"
    line = _line(text, table, index, key)
    if key:
        label = f"{_where(table, index)}{key}: "
    else:
        label = {"host": "[host]: ", "guest": "[[guest]]: "}.get(table, f"{table}: ") \
            if index is None else f"guest {index + 1}: "
    return f"{path}:{line}: {label}{what}"


def _line(text: str, table: str | None, index: int | None, key: str | None) -> int:
    """The line of `key` in table `table` (the index-th [[guest]]), or of the table itself;
    1 when it cannot be found (tomllib keeps no positions)."""
    import re
    lines = text.splitlines()
    start, count = 0, -1
    if table:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?")
        for n, ln in enumerate(lines):
            if header.match(ln):
                count += 1
                if index is None or count == index:
                    start = n
                    break
        else:
            assign = re.compile(rf"^\s*{re.escape(table)}\s*=")
            for n, ln in enumerate(lines):
                if assign.match(ln):
                    return n + 1
            return 1
    if key is None:
        return start + 1
    assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for n in range(start + (1 if table else 0), len(lines)):
        if table and n > start and re.match(r"^\s*\[", lines[n]):
            break
        if assign.match(lines[n]):
            return n + 1
    return start + 1


def check_name(name: str, where: str) -> str:
    """A guest name is shown on the console and names DIR/NAME.log: no control characters,
    no '/', not empty, not starting with '.'."""
    from vcpu.text import visible
    if not name or "/" in name or name.startswith(".") or visible(name) != name:
        raise ValueError(f"{where}: guest name {visible(name)!r}: use letters, digits, '-', "
                         "'_' (no '/', no control characters, not starting with '.')")
    return name


def name_guests(specs: list[GuestSpec]) -> None:
    seen: dict[str, int] = {}
    for spec in specs:
        base = spec.name or os.path.splitext(os.path.basename(spec.program))[0] or "guest"
        seen[base] = seen.get(base, 0) + 1
        spec.name = base if seen[base] == 1 else f"{base}{seen[base]}"
