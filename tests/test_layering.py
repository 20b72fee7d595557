"""Enforce architecture.md §2: a layer imports only from layers below it.

Walks every module's ``import`` statements with ``ast`` (including imports inside functions)
and checks them against the layer table; also checks that kazoo is imported only by
``zk/session.py``, trio only in L5+ (plus ``zk/session.py``, ``zk/kafka_zk.py`` and
``testing``), and that the pure layers (L0–L3) do not touch sockets, clocks or randomness.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "kafkalite"

# module prefix -> layer (longest prefix wins)
LAYERS = {
    "kafkalite.errors": 0, "kafkalite.model": 0, "kafkalite.config": 0, "kafkalite": 0,
    "kafkalite.protocol": 1, "kafkalite.records": 1, "kafkalite.compression": 1,
    "kafkalite.storage": 2, "kafkalite.zk.znodes": 2, "kafkalite.zk.assignment": 2,
    "kafkalite.zk.ops": 2, "kafkalite.zk.errors": 2,
    "kafkalite.controller": 3, "kafkalite.replication": 3, "kafkalite.coordinator": 3,
    "kafkalite.security": 3, "kafkalite.security.service": 5, "kafkalite.security.tls": 5,
    "kafkalite.security.static_jaas": 4, "kafkalite.security.zk_client": 4,
    "kafkalite.zk.session": 4, "kafkalite.zk.kafka_zk": 4, "kafkalite.zk.launcher": 4,
    "kafkalite.zk": 4,
    "kafkalite.controller.service": 5, "kafkalite.replication.service": 5,
    "kafkalite.replication.fetcher": 5,
    "kafkalite.coordinator.service": 5, "kafkalite.coordinator.transaction.service": 5,
    "kafkalite.coordinator.shell": 5,
    "kafkalite.server": 5, "kafkalite.client": 5, "kafkalite.web": 5,
    "kafkalite.cli": 6, "kafkalite.__main__": 6,
    "kafkalite.testing": 7,
}
# Test harnesses with a command line (``make chaos``) may use the test helpers.
TEST_TOOLS = {"kafkalite.cli.chaos"}
PURE_FORBIDDEN = {"socket", "time", "random", "trio", "kazoo", "subprocess", "threading"}
PURE_ALLOWED_EXCEPTIONS = {"kafkalite.storage": {"time"}}  # file mtimes only, never for logic


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports_of(path: Path, module: str):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    package = package.rsplit(".", 1)[0]
                name = f"{package}.{node.module}" if node.module else package
            else:
                name = node.module or ""
            # ``if TYPE_CHECKING:`` imports are for annotations only
            yield name, node.lineno


def _type_checking_lines(path: Path) -> set[int]:
    tree = ast.parse(path.read_text())
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            for sub in ast.walk(node):
                if hasattr(sub, "lineno"):
                    lines.add(sub.lineno)
    return lines


ALL = list(modules())


@pytest.mark.parametrize("module,path", ALL, ids=[m for m, _ in ALL])
def test_module_respects_layers(module: str, path: Path) -> None:
    own = layer_of(module)
    skip = _type_checking_lines(path)
    problems = []
    for name, line in imports_of(path, module):
        if line in skip:
            continue
        top = name.split(".")[0]
        if top == "kafkalite":
            if name == "kafkalite":
                continue
            target = layer_of(name)
            if name.startswith("kafkalite.testing") and not module.startswith("kafkalite.testing") \
                    and module not in TEST_TOOLS:
                problems.append(f"line {line}: imports test helpers {name}")
            elif target > own and not module.startswith("kafkalite.testing") \
                    and module not in TEST_TOOLS:
                problems.append(f"line {line}: L{own} imports L{target} {name}")
        elif top == "kazoo" and module != "kafkalite.zk.session":
            problems.append(f"line {line}: only kafkalite.zk.session may import kazoo")
        elif own <= 3 and top in PURE_FORBIDDEN - PURE_ALLOWED_EXCEPTIONS.get(
                next((p for p in PURE_ALLOWED_EXCEPTIONS if module.startswith(p)), ""), set()):
            problems.append(f"line {line}: pure layer L{own} imports {top}")
        elif top == "trio" and own < 4:
            problems.append(f"line {line}: trio below L4")
    assert not problems, f"{module}:\n" + "\n".join(problems)


def test_layer_table_covers_every_module() -> None:
    assert len(ALL) > 30
    for module, _ in ALL:
        layer_of(module)
