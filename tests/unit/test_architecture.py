"""The layout holds: no import cycles, dependencies point down, small modules, the app never imports tests."""

from __future__ import annotations

import ast
import re
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"

# Layers from the bottom up: a module may import its own layer or a lower one, never a higher one.
# Within the capability layer the packages are ordered too (a package may import the ones before it).
LAYERS: list[tuple[str, ...]] = [
    ("app.config", "app.extensions", "app.i18n", "app.errors", "app.domain", "app.http_client", "app.sqlite"),
    ("app.models",),
    ("app.shopify",),
    ("app.jobs",),
    ("app.shops",),
    ("app.members",),
    ("app.points",),
    ("app.customers",),
    ("app.sync",),
    ("app.dashboard",),
    ("app.analytics",),
    ("app.integrations",),
    ("app.campaigns",),
    ("app.flow",),
    ("app.dispatch",),
    (
        "app.webhooks",
        "app.install",
        "app.admin",
        "app.proxy",
        "app.pos",
        "app.security",
        "app.health",
        "app.observability",
    ),
    ("app",),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at any depth (function-level imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph(folder: Path) -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in folder.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Edges to a package's `__init__` that only re-exports its submodules are not dependencies of it."""
    packages = {name for name in graph if (ROOT / name.replace(".", "/") / "__init__.py").exists()}
    return {
        name: {m for m in deps if not (m in packages and name.startswith(m + "."))}
        for name, deps in graph.items()
    }


def _layer(module: str) -> int:
    best, best_len = len(LAYERS) - 1, 0
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = level, len(prefix)
    return best


def test_the_app_has_no_import_cycle():
    assert _cycles(_without_package_inits(_graph(APP))) == []


def test_the_cycle_finder_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_a_layer_above_it():
    upward = [
        f"{name} -> {dep}"
        for name, deps in _graph(APP).items()
        for dep in sorted(deps)
        if _layer(dep) > _layer(name) and not name.startswith(dep + ".") and name != "app"
    ]
    assert upward == []


def test_the_layer_check_sees_an_upward_import():
    assert _layer("app.models.member") < _layer("app.points.ledger") < _layer("app.admin.members")


@pytest.mark.parametrize("folder", ["app", "scripts", "bench", "emulator"])
def test_nothing_outside_tests_imports_tests(folder):
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / folder).rglob("*.py")
        for module in _imports(path)
        if module == "tests" or module.startswith("tests.")
    ]
    assert offenders == []


def _app_modules() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_no_folder_in_app_is_a_grab_bag():
    for folder in {p.parent for p in _app_modules()}:
        modules = sorted(folder.glob("*.py"))
        assert len(modules) <= 15, f"{folder.relative_to(ROOT)} holds {len(modules)} modules"
        assert sum(map(_lines, modules)) <= 2500, f"{folder.relative_to(ROOT)} holds over 2,500 lines"


def test_modules_are_small():
    sizes = {p: _lines(p) for p in _app_modules() if p.name != "__init__.py" or _lines(p) > 5}
    assert statistics.median(sizes.values()) < 150
    assert [str(p.relative_to(ROOT)) for p, n in sizes.items() if n > 400] == []


def test_no_line_in_app_cites_an_issue_or_a_person():
    pattern = re.compile(r"\bissues? ?#?\d+\b|\bengineer\b", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _app_modules()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
