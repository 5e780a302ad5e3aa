"""Which guests to boot, and how: `PATH[:key=value,...]` arguments and host files (TOML)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from vcpu.units import parse_size


@dataclass
class GuestSpec:
    """One guest of a host description."""
    program: str
    name: str = ""
    mem: int | None = None
    weight: int = 1
    disk: str | None = None


SPEC_KEYS = ("name", "mem", "weight", "disk")


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
    else:
        setattr(spec, key, str(value))


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
    with open(path, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: {e}") from None
    base = os.path.dirname(os.path.abspath(path))
    host = dict(doc.get("host", {}))
    unknown = set(host) - {"memory", "slice"}
    if unknown:
        raise ValueError(f"{path}: unknown [host] setting {sorted(unknown)[0]!r} "
                         "(use memory, slice)")
    if "memory" in host:
        host["memory"] = parse_size(str(host["memory"]))
    if "slice" in host and (not isinstance(host["slice"], int) or host["slice"] < 1):
        raise ValueError(f"{path}: [host] slice must be a whole number of instructions > 0")
    if not isinstance(doc.get("guest", []), list):
        raise ValueError(f"{path}: guests are [[guest]] tables")
    guests = []
    for i, g in enumerate(doc.get("guest", []), 1):
        if not isinstance(g, dict) or not isinstance(g.get("image"), str):
            raise ValueError(f"{path}: guest {i} has no image")
        spec = GuestSpec(os.path.join(base, g["image"]))
        for k, v in g.items():
            if k != "image":
                _set(spec, k, os.path.join(base, v) if k == "disk" else v, f"{path}: guest {i}")
        guests.append(spec)
    if not guests:
        raise ValueError(f"{path}: no [[guest]] entries")
    return host, guests


def name_guests(specs: list[GuestSpec]) -> None:
    seen: dict[str, int] = {}
    for spec in specs:
        base = spec.name or os.path.splitext(os.path.basename(spec.program))[0] or "guest"
        seen[base] = seen.get(base, 0) + 1
        spec.name = base if seen[base] == 1 else f"{base}{seen[base]}"
