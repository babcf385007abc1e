"""The package's modules import each other without a circle, and conf imports none of them.

Every import counts, those inside functions too: a circle hidden in a function still ties two
modules together (and is how such circles usually hide).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import presigned_transfers

PACKAGE = Path(presigned_transfers.__file__).parent
NAME = "presigned_transfers"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """``{module: the package's modules it imports}`` for every module of the package."""
    modules = {
        _module_name(path): path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts
    }
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:
                    package = module.split(".")
                    base = ".".join([*package[: len(package) - node.level], node.module])
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            imported.update(name for name in names if name in modules and name != module)
        # "from presigned_transfers import x" names the package and x: the package itself is
        # only a namespace here (its __init__ imports nothing of the app).
        graph[module] = imported - {NAME}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return [*visiting[visiting.index(module) :], module]
        if module in done:
            return None
        visiting.append(module)
        for dependency in sorted(graph.get(module, ())):
            cycle = visit(dependency)
            if cycle:
                return cycle
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def test_no_import_circle_inside_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_conf_is_the_bottom_of_the_house():
    graph = import_graph()
    assert graph[f"{NAME}.conf"] == set()
    assert graph[f"{NAME}.exceptions"] == set()
    assert graph[f"{NAME}.sigv4"] == set()


def test_the_signer_does_not_import_django():
    """sigv4 uses botocore to resolve its endpoint, and nothing of Django."""
    tree = ast.parse((PACKAGE / "sigv4.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and not {name for name in imported if name.split(".")[0] == "django"}


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


#: The package's layers, bottom up, as ARCHITECTURE.md draws them: a module imports only
#: modules of the layers below its own.
LAYERS = [
    {"conf", "exceptions", "signals", "types", "sigv4", "sniffing", "openapi", "aws"},
    {"policy", "s3http", "signing"},
    {"models", "storage"},
    {"audit", "receivers", "checks"},
    {"services", "ui", "doctor"},
    {"forms", "views", "admin", "templatetags.presigned_transfers", "cleanup"},
    {"rest_framework", "urls", "apps", "testing.seaweedfs"},
    {"management.commands.presigned_cleanup", "management.commands.presigned_doctor"},
    {"testing.bucket"},
    {"testing.flow"},
    {"testing.plugin", "testing"},
]
_NAMESPACES = {"management", "management.commands", "templatetags"}


def _layer_of() -> dict[str, int]:
    return {f"{NAME}.{module}": n for n, layer in enumerate(LAYERS) for module in layer}


def test_every_module_has_a_layer():
    modules = set(import_graph()) - {NAME} - {f"{NAME}.{name}" for name in _NAMESPACES}
    assert modules == set(_layer_of()), "place new modules in LAYERS and ARCHITECTURE.md"


def test_modules_import_only_the_layers_below_their_own():
    layer = _layer_of()
    upward = sorted(
        f"{module} -> {imported}"
        for module, imports in import_graph().items()
        if module in layer
        for imported in imports
        if imported in layer and layer[imported] >= layer[module]
    )
    assert upward == []


def test_the_layer_check_finds_an_import_upward(monkeypatch):
    graph = import_graph()
    graph[f"{NAME}.conf"] = {f"{NAME}.services"}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError):
        test_modules_import_only_the_layers_below_their_own()
