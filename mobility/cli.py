"""Command-line flags of the repository device and the network, shared by `hv run`, `hv boot`
and `hv os`, so that each command adds them with one call."""
from __future__ import annotations

import argparse


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < v <= 600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 600")
    return v


def add_repo_args(p) -> None:
    g = p.add_argument_group("code repository (docs/mobility.md)")
    g.add_argument("--repo", metavar="DIR|URL",
                   help="attach a repository device fetching from DIR or http://HOST:PORT/")
    g.add_argument("--repo-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="give up on one fetch after this long (default 5)")


def check_repo_arg(args) -> None:
    """Refuse a malformed --repo before anything boots (ValueError: one line)."""
    from .store import RepoError, Source
    if getattr(args, "repo", None):
        try:
            Source(args.repo)
        except RepoError as e:
            raise ValueError(str(e)) from None


def attach_repo_from_args(platform, args, note=None, defer: bool = False):
    """A repository device on `platform` when --repo was given; None otherwise. `defer`
    (under the hypervisor): other guests run while one fetches."""
    if not getattr(args, "repo", None):
        return None
    from .repodev import attach_repo
    return attach_repo(platform, args.repo, timeout=args.repo_timeout, note=note, defer=defer)


def stderr_note(prefix: str = ""):
    """Failures of the device as one line on stderr (when no trace takes them)."""
    import sys

    def note(text: str) -> None:
        if not text.startswith("repo: fetched"):
            sys.stdout.flush()
            print(f"hv: {prefix}{text}", file=sys.stderr, flush=True)
    return note


def trace_note(trace, vm):
    def note(text: str) -> None:
        trace.event(vm, "device", pc=vm.core.pc, what=text)
    return note


def add_net_args(p) -> None:
    g = p.add_argument_group("virtual network (docs/mobility.md)")
    g.add_argument("--net", action="store_true",
                   help="give every guest a network device on one virtual switch")
    g.add_argument("--net-peer", metavar="tcp:HOST:PORT",
                   help="join this host's switch to another hv process's (implies --net): "
                   "connects if the peer listens there, otherwise listens for it")
    g.add_argument("--net-wait", type=_seconds, default=30.0, metavar="SECONDS",
                   help="how long to wait for the peer, at start and when every guest waits "
                   "for a frame from it (default 30)")


def attach_net_from_args(host, args):
    """A switch for the host's guests when --net or --net-peer was given; None otherwise."""
    if not (getattr(args, "net", False) or getattr(args, "net_peer", None)):
        return None
    from .net import NetError, Switch, join
    from .store import RepoError, parse_tcp
    sw = Switch()
    sw.wire_wait = args.net_wait
    try:
        for vm in host.vms:
            sw.attach(vm)
        if args.net_peer:
            h, port = parse_tcp(args.net_peer)
            sw.link = join(h, port, [d.mac for d in sw.devices], sw.stats, args.net_wait)
    except (NetError, RepoError) as e:
        raise ValueError(str(e)) from None
    host.net = sw
    return sw


def add_net_peer_args(p) -> None:
    """`hv os`: one machine, so only the link to another process's switch."""
    g = p.add_argument_group("virtual network (docs/mobility.md)")
    g.add_argument("--net-peer", metavar="tcp:HOST:PORT",
                   help="with --hv: give the OS a network device on a switch joined to another "
                   "hv process's (send and recv system calls)")
    g.add_argument("--net-wait", type=_seconds, default=30.0, metavar="SECONDS",
                   help="how long to wait for the peer (default 30)")


def join_switch(host, peer: str, wait: float = 30.0, names=None):
    """A switch with every guest of `host` on it, joined to the peer at tcp:HOST:PORT.
    `names` (one per guest) give the devices their addresses."""
    from .net import NetError, Switch, join
    from .store import RepoError, parse_tcp
    sw = Switch()
    sw.wire_wait = wait
    try:
        for i, vm in enumerate(host.vms):
            sw.attach(vm, names[i] if names else None)
        h, port = parse_tcp(peer)
        sw.link = join(h, port, [d.mac for d in sw.devices], sw.stats, wait)
    except (NetError, RepoError) as e:
        raise ValueError(str(e)) from None
    host.net = sw
    return sw
