"""`hv snapshot info FILE`: check a snapshot (magic, version, checksum, ISA) and describe it."""
from __future__ import annotations

import json


def register(sub) -> None:
    s = sub.add_parser("snapshot", help="inspect snapshot files")
    ss = s.add_subparsers(dest="snapshot_command", metavar="ACTION")
    ss.required = True
    info = ss.add_parser("info", help="check a snapshot and describe it",
                         description="Check FILE (magic, format version, checksum, ISA, every "
                         "section) and print its header, guest, instruction count and sizes. "
                         "Exit status 2 with one line when it cannot be restored.")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="the description as JSON")
    info.set_defaults(func=cmd_info)


def describe(snap) -> dict:
    st = snap.state
    cpus = st["cpus"]
    mem = snap.memory
    stored_pages = int.from_bytes(mem[8:12], "little") if len(mem) >= 12 else 0
    dev = st.get("devices", {})
    d = {"file": snap.path, "format": snap.header.version, "writer": st.get("writer", "?"),
         "isa": f"{snap.header.isa:08x}", "checksum": f"xxh3-64 {snap.header.checksum:016x} ok",
         "bytes": snap.header.length, "kind": st["kind"], "name": st.get("name"),
         "core": st.get("core"), "icount": st["icount"], "cpus": len(cpus),
         "pc": [f"{c['pc']:08x}" for c in cpus],
         "memory": st["mem_size"], "pages_stored": stored_pages,
         "pages": st["mem_size"] // 4096,
         "sections": {k: {"raw": r, "stored": s} for k, (r, s) in snap.sizes.items()},
         "console_output_before": st.get("output_bytes"),
         "unread_input": len(dev.get("console", {}).get("input", "")) // 2,
         "symbols": len(st.get("symbols", [])), "params": st.get("params", {})}
    if isinstance(dev.get("disk"), dict) and dev["disk"].get("path"):
        d["disk"] = {"path": dev["disk"]["path"], "sha256": dev["disk"].get("sha256")}
    if st["kind"] == "guest":
        hv = st.get("hv", {})
        d["virtual_status"] = f"{hv.get('vcr', [0])[0]:#x}"
    return d


def cmd_info(args) -> int:
    from vcpu.snapshot import read
    snap = read(args.file)
    d = describe(snap)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"snapshot {d['file']}", title_justify="left", show_header=False)
    t.add_column("field")
    t.add_column("value")
    what = "bare machine" if d["kind"] == "machine" else f"guest {d['name']}"
    rows = [("verdict", "ok: magic, version, checksum, ISA and sections check"),
            ("format", f"version {d['format']}, written by {d['writer']}"),
            ("ISA fingerprint", d["isa"]), ("checksum", d["checksum"]),
            ("size", f"{d['bytes']:,} bytes"), ("contents", f"{what}, saved on core {d['core']}"),
            ("instruction count", f"{d['icount']:,}"),
            ("CPUs", f"{d['cpus']} (pc {', '.join(d['pc'])})"),
            ("memory", f"{d['memory'] // 1024} KiB, {d['pages_stored']} of {d['pages']} "
                       "pages stored (zero pages left out)"),
            ("console", f"{d['console_output_before']} bytes printed before, "
                        f"{d['unread_input']} bytes of input unread"),
            ("symbols", str(d["symbols"]))]
    for k, v in d["sections"].items():
        rows.append((f"section {k}", f"{v['raw']:,} bytes, {v['stored']:,} stored"))
    if "disk" in d:
        rows.append(("disk", f"{d['disk']['path']} (sha256 {d['disk']['sha256'][:16]}…)"))
    if d["params"]:
        rows.append(("run parameters", ", ".join(f"{k}={v}" for k, v in d["params"].items())))
    for r in rows:
        t.add_row(*r)
    Console(highlight=False).print(t)
    return 0
