"""What keeps a run's results when the run is cut short, and checks made before it starts.

- `stop_signals`: SIGINT (Ctrl-C), SIGTERM and SIGHUP, and `--timeout`'s alarm, become a
  `Stopped` exception in the run loop, so every guest stops as interrupted, disks are
  flushed, traces and console logs are closed as valid files and the summary is printed.
  The exit status is 128 + the signal (124 for --timeout, as `timeout(1)` gives). A second
  signal while that cleanup runs is noted, not obeyed: cleanup always finishes.
- `check_disks`: one image file given to two guests (also through `--disk X --disk X`, a
  symlink or a `../` path: real paths and inodes are compared) is refused before anything runs.
- `ConsoleLogs`: --console-dir files opened before the run (so an unwritable directory is
  an error before any guest runs) and written as the guests print (nothing held in memory).
- `check_writable`: an output file (--junit) that could not be written at the end is found
  before the run, so an error found late never replaces the guests' own status.
- `check_host_memory`: the pool fits the host (`--host-mem`, default half of physical memory).
"""
from __future__ import annotations

import os
import signal

from .common import CLIError, warn

EXIT_TIMEOUT = 124
SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class Stopped(KeyboardInterrupt):
    """The host was told to stop: by a signal, or by --timeout."""

    def __init__(self, signum: int | None = None, timeout: float | None = None):
        super().__init__()
        self.signum = signum
        self.timeout = timeout

    @property
    def status(self) -> int:
        return EXIT_TIMEOUT if self.timeout is not None else 128 + int(self.signum or 2)

    @property
    def reason(self) -> str:
        if self.timeout is not None:
            return f"stopped after {self.timeout:g} s of wall-clock time (--timeout)"
        return f"interrupted ({SIGNALS.get(self.signum, f'signal {self.signum}')})"


def stopped(exc: KeyboardInterrupt) -> Stopped:
    """A plain KeyboardInterrupt (raised before our handler was installed) as a Stopped."""
    return exc if isinstance(exc, Stopped) else Stopped(signal.SIGINT)


class StopSignals:
    """`with StopSignals(timeout):` SIGINT, SIGTERM, SIGHUP and the --timeout alarm raise
    `Stopped`, once. After the block, further signals are ignored until `restore()` (call it
    when the cleanup and the summary are done)."""

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout
        self.fired = False
        self.old: dict = {}

    def _handler(self, signum, frame):
        if self.fired:                 # a stop is under way: let the cleanup finish
            return
        self.fired = True
        if signum == signal.SIGALRM:
            raise Stopped(timeout=self.timeout)
        raise Stopped(signum)

    def __enter__(self):
        for s in (*SIGNALS, signal.SIGALRM):
            try:
                self.old[s] = signal.signal(s, self._handler)
            except (ValueError, OSError):   # not the main thread: leave signals alone
                pass
        if self.timeout:
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        return self

    def __exit__(self, *exc):
        if self.timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.fired = True
        return False

    def restore(self) -> None:
        for s, h in self.old.items():
            try:
                signal.signal(s, h)
            except (ValueError, OSError, TypeError):
                pass
        self.old = {}


def add_timeout_arg(p) -> None:
    p.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                   help="stop after this much wall-clock time: guests stop as interrupted, "
                   "the summary is printed, exit status 124")


def _seconds(text: str) -> float:
    import argparse
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds > 0")
    return v


# --- checks before the run ----------------------------------------------------------------

def check_disks(pairs) -> None:
    """`pairs`: (guest name, disk path or None). Refuse one image file for two guests."""
    seen: dict[tuple[int, int], tuple[str, str]] = {}
    for name, path in pairs:
        if path is None:
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise CLIError(f"guest {name}: disk {path}: no such file") from None
        except OSError as e:
            raise CLIError(f"guest {name}: disk {path}: {e.strerror or e}") from None
        key = (st.st_dev, st.st_ino)
        if key in seen:
            other, other_path = seen[key]
            real = os.path.realpath(path)
            raise CLIError(f"guests {other} and {name} are given the same disk image "
                           f"({other_path} and {path} are both {real}, inode {st.st_ino}): "
                           "give each guest its own copy")
        seen[key] = (name, path)


def check_writable(path: str, what: str) -> None:
    """An output file we will write at the end: can it be created now? (Left in place
    empty if it did not exist; the end of the run replaces it.)"""
    d = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise CLIError(f"{what} {path}: is a directory")
    if not os.path.isdir(d):
        raise CLIError(f"{what} {path}: no such directory {d}")
    try:
        with open(path, "ab"):
            pass
    except OSError as e:
        raise CLIError(f"{what} {path}: cannot be written ({e.strerror or e})") from None


def default_host_mem() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def check_host_memory(pool: int, limit: int | None, guests: int) -> None:
    limit = limit or default_host_mem()
    if pool > limit:
        raise CLIError(f"{guests} guest(s) need {_size(pool)} of host memory with their shadow "
                       f"page tables; the limit is {_size(limit)} (--host-mem, default half "
                       "of this machine's memory): give them less --mem, or raise --host-mem")


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


class ConsoleLogs:
    """DIR/NAME.log for each guest, opened before the run and written as the guest prints."""

    def __init__(self, directory: str, names):
        self.files = {}
        self.errors: list[str] = []
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise CLIError(f"--console-dir {directory}: {e.strerror or e}") from None
        real = os.path.realpath(directory)
        for name in names:
            path = os.path.join(directory, f"{name}.log")
            if (os.sep in name or name.startswith(".") or "\0" in name
                    or os.path.dirname(os.path.realpath(path)) != real):
                raise CLIError(f"guest name {name!r} cannot name a file in --console-dir "
                               "(no '/', no leading '.'): choose another with name=")
            try:
                self.files[name] = open(path, "wb", buffering=1 << 16)
            except OSError as e:
                self.close()
                raise CLIError(f"--console-dir: {path}: {e.strerror or e}") from None

    def write(self, name: str, data: bytes) -> None:
        f = self.files.get(name)
        if f is None:
            return
        try:
            f.write(data)
        except OSError as e:
            self._drop(name, e)

    def _drop(self, name, e) -> None:
        f = self.files.pop(name)
        msg = f"{f.name}: {e.strerror or e}; this console log stopped, the guest ran on"
        self.errors.append(msg)
        warn(msg)
        try:
            f.close()
        except OSError:
            pass

    def close(self) -> None:
        for name in list(self.files):
            try:
                self.files[name].close()
                del self.files[name]
            except OSError as e:
                self.files[name].close = lambda: None
                self._drop(name, e)


def disk_errors(vms, multi: bool) -> list[str]:
    """Host I/O errors the guests' disks met (each failed that guest's request, status 5)."""
    from vcpu.devices import Disk
    out = []
    for vm in vms:
        for d in vm.bus.devices:
            if isinstance(d, Disk) and d.error:
                where = f"{vm.name}: " if multi else ""
                out.append(f"{where}{d.error} (the guest's request failed with status 5)")
    return out
