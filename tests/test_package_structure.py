"""The package's layers import downward only (DESIGN.md section 1), and its module-level imports
form no cycle, so any module can be imported first in a fresh interpreter."""
import ast
import pathlib
import subprocess
import sys

import rnnkit

PACKAGE = pathlib.Path(rnnkit.__file__).parent
# Higher rank may import lower rank, never the reverse (equal ranks may import each other).
RANK = {"cli": 6, "tasks": 5, "data": 4, "io": 4, "models": 4, "train": 4, "layers": 2, "engine": 1, "checks": 0}
# data, io, models/train share a tier in the order, but data is NumPy-only and io builds on
# models: neither of those may be imported from below.
FORBIDDEN_SIDEWAYS = {("models", "io"), ("train", "io"), ("models", "data"), ("train", "data"), ("io", "data")}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path, everywhere):
    """(line, imported rnnkit module) for each import in the file; module level only unless `everywhere`."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if everywhere else tree.body
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            # `from . import x` names a submodule when x is one
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE.parent / sub.replace(".", "/")
                ).is_dir():
                    yield node.lineno, sub
                else:
                    yield node.lineno, target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def tier(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_no_module_imports_from_a_layer_above_it_even_inside_a_function():
    upward = []
    for path in MODULES:
        mine = tier(module_name(path))
        for line, target in imports_of(path, everywhere=True):
            theirs = tier(target) if target.startswith("rnnkit.") else None
            if mine is None or theirs is None or mine == theirs:
                continue
            if RANK[theirs] > RANK[mine] or (mine, theirs) in FORBIDDEN_SIDEWAYS:
                upward.append(f"{module_name(path)}:{line} imports {target}")
    assert upward == []


def test_module_level_imports_form_no_cycle():
    graph = {module_name(p): {t for _, t in imports_of(p, everywhere=False) if t.startswith("rnnkit")} for p in MODULES}
    for module, targets in graph.items():  # a package's __init__ runs before any of its submodules
        parent = module.rpartition(".")[0]
        if parent and parent != "rnnkit" and parent in graph:
            targets.discard(parent)
    state, cycles = {}, []

    def visit(module, trail):
        if state.get(module) == "done" or module not in graph:
            return
        if state.get(module) == "open":
            cycles.append(" -> ".join(trail[trail.index(module):] + [module]))
            return
        state[module] = "open"
        for target in sorted(graph[module]):
            if not (module == "rnnkit" or target.startswith(module + ".")):  # a package importing its own parts
                visit(target, trail + [module])
        state[module] = "done"

    for module in graph:
        visit(module, [])
    assert cycles == []


def test_every_package_and_top_level_module_imports_first():
    """Each package and top-level module (the ones a user imports) imported first, with rnnkit
    unloaded before each, in one fresh interpreter: a cycle shows as an ImportError."""
    names = [module_name(p) for p in MODULES if p.name == "__init__.py" or p.parent == PACKAGE]
    names.remove("rnnkit.__main__")
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'rnnkit' or m.startswith('rnnkit.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
