"""The layout holds: each package imports only the layers below it, and no module imports
itself back through others (imports inside functions count too)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["vcpu", "asm", "hypervisor", "guesttest", "bench", "mobility", "debugger", "hv"]
# What each package may import from the project (besides itself).
ALLOWED = {
    "vcpu": set(),
    "asm": {"vcpu"},
    "hypervisor": {"vcpu", "asm"},
    "guesttest": {"vcpu", "asm", "hypervisor"},
    "bench": {"vcpu", "asm", "hypervisor", "guesttest"},
    "mobility": {"vcpu", "asm", "hypervisor"},
    "debugger": {"vcpu", "asm", "hypervisor"},
    "hv": {"vcpu", "asm", "hypervisor", "guesttest", "bench", "mobility", "debugger"},
}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = f
    return mods


def _imports(name: str, path: Path, mods) -> set[str]:
    """Project modules that `name` imports, resolved to the longest known module name."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                stem = base[:len(base) - node.level + 1]
                mod = ".".join(stem + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" for a in node.names] + [mod]
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph():
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def test_packages_import_only_the_layers_below():
    bad = []
    for mod, deps in _graph().items():
        pkg = mod.split(".")[0]
        for d in deps:
            other = d.split(".")[0]
            if other != pkg and other not in ALLOWED[pkg]:
                bad.append(f"{mod} imports {d}")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycles_between_modules():
    graph = _graph()
    # A module imports its package's __init__ implicitly; leave those edges out, as Python
    # resolves a package before its modules.
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in graph.get(m, ()):
            if m.startswith(d + "."):
                continue
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(cycles)
