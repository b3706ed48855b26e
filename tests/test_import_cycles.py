"""No import cycles in autobot_guard/: every module can be read, and imported, on its own.

The graph is built from the source files with `ast`: the imports a module runs when it
is imported (its top level, class bodies, `if`/`try` blocks; not functions, which import
lazily on purpose, nor `if TYPE_CHECKING:` blocks). Importing `a.b.c` runs the packages
`a` and `a.b` first, so those are edges too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "autobot_guard"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Module name -> source file, for every .py file under `root`."""
    modules = {}
    for file in sorted(root.rglob("*.py")):
        parts = [package, *file.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = file
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when a module with this body is imported."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _import_time_nodes(node.body)
            found += _import_time_nodes(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                found += _import_time_nodes(block)
            for handler in node.handlers:
                found += _import_time_nodes(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):
            found += _import_time_nodes(node.body)
    return found


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imports_of(module: str, file: Path, known: set[str]) -> set[str]:
    """The modules of `known` that importing `module` runs (itself excluded).

    A package that `module` is inside of is already being imported when `module` runs,
    so it counts only when `module` asks for a name its __init__ defines.
    """
    is_package = file.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    own = {*_parents(module), module}
    needed: set[str] = set()  # whose body must have run
    implied: set[str] = set()  # parents Python imports first
    for node in _import_time_nodes(ast.parse(file.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                needed.add(alias.name)
                implied.update(_parents(alias.name))
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        implied.update(_parents(base))
        for alias in node.names:
            if f"{base}.{alias.name}" in known:  # `from pkg import submodule`
                needed.add(f"{base}.{alias.name}")
                implied.add(base)
            else:
                needed.add(base)
    targets = needed | (implied - own)
    return {target for target in targets if target in known and target != module}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    return {module: imports_of(module, file, known) for module, file in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph(module_files()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_graph_sees_what_python_runs(tmp_path: Path) -> None:
    """The detector itself: it finds a cycle through a package's __init__, a relative
    `from . import`, and ignores TYPE_CHECKING and function-level imports."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text("from ..top import thing\n")
    (package / "top.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .lazy import x\n"
        "def f():\n    from .lazy import y\n"
        "try:\n    from .sub.leaf import z\nexcept ImportError:\n    pass\n"
    )
    (package / "lazy.py").write_text("from .top import thing\n")
    graph = import_graph(module_files(package, "pkg"))
    assert graph["pkg.top"] == {"pkg.sub", "pkg.sub.leaf"}
    assert graph["pkg.lazy"] == {"pkg.top"}
    assert graph["pkg.sub.leaf"] == {"pkg.top"}
    assert find_cycle(graph) == ["pkg.top", "pkg.sub", "pkg.sub.leaf", "pkg.top"]
    (package / "top.py").write_text("thing = 1\n")
    assert find_cycle(import_graph(module_files(package, "pkg"))) is None
