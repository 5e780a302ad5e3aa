"""`hv repo add|list|serve`: the content-addressed code repository (docs/mobility.md)."""
from __future__ import annotations

import argparse
import sys


def _err(msg: str) -> int:
    from hv.common import fail
    return fail(msg)


def cmd_add(args) -> int:
    from asm.errors import AsmError
    from vcpu.image import ImageError
    from mobility import store

    from .os import assemble_user        # user.s on the include path, as hv os does
    images = []
    for path in args.programs:
        name = args.name if args.name else store.program_name(path)
        try:
            images.append((path, name, store.load_for_repo(path, assemble_user, args.strip)))
        except AsmError as e:
            print(str(e), file=sys.stderr)
            return 1
        except ImageError as e:
            return _err(str(e))
    if args.name and len(images) > 1:
        return _err("--name names one program; give one PROGRAM with it")
    for path, name, data in images:
        try:
            sha, ver, new = store.add(args.dir, name, data)
        except (store.RepoError, OSError) as e:
            return _err(str(e) if isinstance(e, store.RepoError) else f"{args.dir}: {e.strerror or e}")
        what = "added" if new else "unchanged"
        print(f"{name}@{ver} {sha[:16]} {len(data)} bytes ({what})")
    return 0


def cmd_list(args) -> int:
    from rich.console import Console
    from rich.table import Table
    from mobility import store
    try:
        rows = store.listing(args.dir)
    except store.RepoError as e:
        return _err(str(e))
    if args.json:
        import json
        print(json.dumps(rows, indent=1))
        return 0
    t = Table(title=f"repository {args.dir}")
    for col in ("program", "version", "sha256", "bytes", "object"):
        t.add_column(col, justify="right" if col in ("version", "bytes") else "left")
    for r in rows:
        t.add_row(r["name"], str(r["version"]), r["sha256"][:16], str(r["size"]),
                  "present" if r["present"] else "[red]missing[/]")
    Console(highlight=False).print(t)
    return 0 if all(r["present"] for r in rows) else 1


def cmd_serve(args) -> int:
    from mobility import serve, store
    try:
        host, port = store.parse_tcp(args.listen)
        serve.serve(args.dir, host, port, max_time=args.max_time, quiet=args.quiet,
                    announce=lambda s: print(s, flush=True))
    except store.RepoError as e:
        return _err(str(e))
    except OSError as e:
        return _err(f"cannot serve on {args.listen}: {e.strerror or e}")
    except KeyboardInterrupt:
        return 130
    return 0


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def register(subparsers) -> None:
    p = subparsers.add_parser("repo", help="a content-addressed code repository guests fetch from",
                              description="Programs stored by hash, a manifest of names; "
                              "any static HTTP server serves it (docs/mobility.md).")
    sub = p.add_subparsers(dest="repo_cmd", metavar="add|list|serve", required=True)
    a = sub.add_parser("add", help="assemble programs and add their images")
    a.add_argument("dir", metavar="DIR")
    a.add_argument("programs", metavar="PROGRAM", nargs="+",
                   help="sources (.s, assembled with the OS's user.s on the include path) or images")
    a.add_argument("--name", help="store under this name instead of the file's base name")
    a.add_argument("--strip", action="store_true",
                   help="store only the code and data (no symbols or line table): smaller "
                   "images, for the OS's exec (it fetches images up to 16 KiB)")
    a.set_defaults(func=cmd_add)
    ls = sub.add_parser("list", help="the programs, versions and hashes of a repository")
    ls.add_argument("dir", metavar="DIR")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=cmd_list)
    s = sub.add_parser("serve", help="serve a repository over HTTP")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--listen", metavar="tcp:HOST:PORT", default="tcp:127.0.0.1:8000",
                   help="address to listen on (port 0 picks a free one; default %(default)s)")
    s.add_argument("--max-time", type=_seconds, metavar="SECONDS",
                   help="stop serving after this long")
    s.add_argument("--quiet", action="store_true", help="do not log requests")
    s.set_defaults(func=cmd_serve)

