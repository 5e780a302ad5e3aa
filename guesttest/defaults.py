"""Defaults shared by `hv test` and the pytest plugin."""
DEFAULT_PATTERN = "test_*.s"
DEFAULT_MAX_STEPS = 5_000_000
DEFAULT_MEM = 64 * 1024
CORES = ("c", "py")
MODES = ("bare", "hv")
CONSOLE_TAIL = 20
TRACE_TAIL = 15
