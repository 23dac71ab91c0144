"""The layering rules, checked on the source (every import, also those inside functions):

- no service imports another service;
- the shared package `selfaware/` imports no service;
- a service's domain modules (all but `servicer`, `handlers`, `main` and `__main__`) reach neither grpc nor nats,
  directly or through any module of the repository (imports under `if TYPE_CHECKING:` do not count: a domain
  module may name the type of a store it is handed);
- the aggregator's modules never import torch, vllm, peft or transformers, directly or through the repository.
The last rule is also checked in a real aggregator process: see tests/e2e/test_cli.py (it reads the modules the
aggregator had loaded from its `service_stopped` log line).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRANSPORT = ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "nats")
HEAVY = ("torch", "vllm", "peft", "transformers")
WIRING = {"servicer", "handlers", "main", "__main__"}


def _modules() -> dict[str, Path]:
    found = {}
    for root in ("selfaware", "services"):
        for path in sorted((REPO / root).rglob("*.py")):
            if path.is_relative_to(REPO / "selfaware" / "v1"):
                continue  # generated stubs
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


@cache
def imports(module: str) -> frozenset[str]:
    """Every module name `module` imports (absolute, relative ones resolved; `from a import b` gives a and a.b)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:`, which only type checkers import."""
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        nodes.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def _top(name: str) -> str:
    return name.split(".")[0]


@cache
def reaches(module: str, targets: tuple[str, ...]) -> tuple[str, ...]:
    """A chain of repository modules from `module` to an import of one of `targets`, or () if there is none."""
    return _reaches(module, targets, frozenset())


def _reaches(module: str, targets: tuple[str, ...], seen: frozenset[str]) -> tuple[str, ...]:
    for name in sorted(imports(module)):
        if _top(name) in targets:
            return (module, name)
        if name in MODULES and name not in seen and name != module:
            chain = _reaches(name, targets, seen | {module})
            if chain:
                return (module, *chain)
    return ()


def _service(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def test_the_walk_finds_the_code() -> None:
    assert "selfaware.bus" in MODULES and "services.aggregator.main" in MODULES
    assert "nats" in {_top(n) for n in imports("selfaware.bus")}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _service(m)))
def test_no_service_imports_another(module: str) -> None:
    own = _service(module)
    others = sorted(n for n in imports(module) if _service(n) not in (None, own))
    assert not others, f"{module} imports another service: {others}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("selfaware")))
def test_the_shared_package_imports_no_service(module: str) -> None:
    services = sorted(n for n in imports(module) if _top(n) == "services")
    assert not services, f"{module} imports a service: {services}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _service(m) and m.split(".")[-1] not in WIRING
                                          and m.count(".") >= 2))
def test_domain_modules_reach_neither_grpc_nor_nats(module: str) -> None:
    chain = reaches(module, TRANSPORT)
    assert not chain, f"domain module {module} reaches transport: {' -> '.join(chain)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _service(m) == "aggregator"))
def test_the_aggregator_never_imports_heavy_libraries(module: str) -> None:
    chain = reaches(module, HEAVY)
    assert not chain, f"{module} reaches a heavy library: {' -> '.join(chain)}"
