"""The package's modules import without a circle, and each layer only downwards (docs/architecture.md).

The graph is read from the source (AST), not from ``sys.modules``, so an import inside a function
counts as much as one at the top; only an ``if TYPE_CHECKING:`` block may name a type of a module it
must not import. ``from pkg import mod`` where ``mod`` is a module counts as importing ``pkg.mod``;
importing ``pkg.mod`` also runs ``pkg/__init__.py``, so it counts as importing ``pkg`` too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import airflow_provider_tagoffline

PACKAGE = Path(airflow_provider_tagoffline.__file__).parent
ROOT = "airflow_provider_tagoffline"


def module_name(path: Path, package_dir: Path = PACKAGE, root: str = ROOT) -> str:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([root, *parts])


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module an ``ImportFrom`` names, relative levels resolved against the importer."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]  # a module's level 1 is its own package
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _nodes_outside_type_checking(tree: ast.AST) -> list[ast.AST]:
    found: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for branch in node.orelse:  # the else branch runs
                visit(branch)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _prefixes(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def import_graph(package_dir: Path = PACKAGE, root: str = ROOT) -> dict[str, set[str]]:
    """Module → the package's modules it imports. Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``:
    each is an edge, but for the importer's own enclosing packages (loaded before it). ``from a.b import
    n`` is an edge to ``a.b.n`` where that is a module, else to ``a.b`` itself (even the importer's own
    package: it needs what that ``__init__`` defines)."""
    files = {module_name(p, package_dir, root): p for p in sorted(package_dir.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        own = _prefixes(name)  # itself and its enclosing packages: loaded before it runs

        def loaded(module: str, own: set[str] = own) -> set[str]:
            return {p for p in _prefixes(module) if p in files and p not in own}

        targets: set[str] = set()
        for node in _nodes_outside_type_checking(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets |= loaded(alias.name)
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(node, name, path.name == "__init__.py")
                targets |= loaded(module)
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    if sub in files:
                        targets |= loaded(sub)
                    elif module in files and module != name:
                        targets.add(module)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _short(module: str, root: str = ROOT) -> str:
    return module.removeprefix(root + ".")


def _in(module: str, names: Iterable[str], root: str) -> bool:
    return any(module == f"{root}.{n}" or module.startswith(f"{root}.{n}.") for n in names)


def reaches(graph: dict[str, set[str]], layer: str, forbidden: Iterable[str], root: str = ROOT) -> dict[str, list[str]]:
    """What each module of ``layer`` loads from ``forbidden`` (packages or modules), directly or through
    other modules: the module → the shortest import chain to each forbidden module it reaches first."""
    forbidden = tuple(forbidden)
    found: dict[str, list[str]] = {}
    for start in sorted(m for m in graph if _in(m, (layer,), root)):
        came: dict[str, str | None] = {start: None}
        todo = [start]
        # breadth first: the shortest chains; not past a forbidden module (its own imports are its business)
        while todo:
            following: list[str] = []
            for module in todo:
                for imported in sorted(graph.get(module, ())):
                    if imported in came:
                        continue
                    came[imported] = module
                    if not _in(imported, forbidden, root):
                        following.append(imported)
                        continue
                    chain = [imported]
                    while (previous := came[chain[-1]]) is not None:
                        chain.append(previous)
                    found.setdefault(_short(start, root), []).append(" -> ".join(_short(m, root) for m in chain[::-1]))
            todo = following
    return found


# --- the finder itself -----------------------------------------------------------------------

def _write(tmp: Path, files: dict[str, str]) -> None:
    for rel, source in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


def test_the_graph_resolves_relative_imports_submodules_and_skips_type_checking(tmp_path: Path) -> None:
    _write(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from . import b\n",
        "a/b.py": "from ..c import helper\n",
        "a/d.py": "def f():\n    from pkg.a import b\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import b\n"
                "def helper():\n    import pkg.e\n",
        "e.py": "",
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.a.b"}
    assert graph["pkg.a.b"] == {"pkg.c"}
    assert graph["pkg.a.d"] == {"pkg.a.b"}  # a function-level import counts; its own package does not
    assert graph["pkg.c"] == {"pkg.e"}  # TYPE_CHECKING is skipped
    assert circles(graph) == []


def test_an_import_inside_a_function_counts_and_a_type_checking_one_does_not(tmp_path: Path) -> None:
    _write(tmp_path, {
        "__init__.py": "",
        "low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.high import T\nelse:\n"
                  "    import pkg.other\ndef f():\n    from pkg import high\n",
        "high.py": "", "other.py": "",
    })
    assert import_graph(tmp_path, "pkg")["pkg.low"] == {"pkg.high", "pkg.other"}  # the else branch runs
    assert reaches(import_graph(tmp_path, "pkg"), "low", ("high",), "pkg") == {"low": ["low -> high"]}


def test_the_finder_names_every_module_of_a_circle(tmp_path: Path) -> None:
    _write(tmp_path, {
        "__init__.py": "",
        "x.py": "from pkg import y\n",
        "y.py": "def f():\n    from .z import g\n",
        "z.py": "import pkg.x\n",
        "w.py": "import pkg.x\n",
        "p/__init__.py": "from pkg.p.q import thing\n",
        "p/q.py": "from pkg.p import other\n",  # importing a sibling through the package's __init__
    })
    assert circles(import_graph(tmp_path, "pkg")) == [["pkg.p", "pkg.p.q"], ["pkg.x", "pkg.y", "pkg.z"]]


# --- the package -----------------------------------------------------------------------------

def test_the_graph_reads_every_module_of_the_package() -> None:
    graph = import_graph()
    assert f"{ROOT}.service.validation" in graph and f"{ROOT}.catalog.migrations" in graph
    assert f"{ROOT}.catalog.repository" in graph[f"{ROOT}.service.lifecycle"]


def test_no_import_circle_between_the_package_modules() -> None:
    found = [" <-> ".join(_short(m) for m in c) for c in circles(import_graph())]
    assert found == [], "import circles:\n  " + "\n  ".join(found)


#: what the catalog store must not load, even through another module: the layers that ask it
ABOVE_CATALOG = ("service", "api", "operators", "rendering", "cli", "engine", "plugin", "airflow_bridge",
                 "create_table", "demo", "ui", "lineage", "notifications")


def test_the_catalog_imports_nothing_from_the_layers_above_it() -> None:
    bad = reaches(import_graph(), "catalog", ABOVE_CATALOG)
    assert bad == {}, "catalog/ loads a layer above it:\n  " + "\n  ".join(c for cs in bad.values() for c in cs)


#: what the engine must not load, even through another module: the registry of families (any module
#: under ``dialects/`` runs ``dialects/__init__.py``, which lists them), the connection resolver, and
#: its callers. It is handed resolved families and connections by them, once per run.
ABOVE_ENGINE = ("dialects", "connections", "places", "service", "api", "operators", "rendering", "cli", "plugin",
                "airflow_bridge", "demo", "catalog", "lineage", "notifications")


def test_the_engine_imports_neither_the_family_registry_nor_the_connection_resolver() -> None:
    bad = reaches(import_graph(), "engine", ABOVE_ENGINE)
    assert bad == {}, "engine/ loads the registry, the resolver or a caller:\n  " + \
        "\n  ".join(c for cs in bad.values() for c in cs)


def test_the_family_contract_imports_nothing_above_it() -> None:
    """``contract/`` (Family, Dialect, Resolved) is what the registry, the resolver and the engine build on."""
    bad = reaches(import_graph(), "contract", (*ABOVE_ENGINE, "engine", "runs"))
    assert bad == {}, "contract/ loads a module above it:\n  " + "\n  ".join(c for cs in bad.values() for c in cs)


def test_the_layer_check_follows_chains(tmp_path: Path) -> None:
    _write(tmp_path, {"__init__.py": "", "low/__init__.py": "", "low/a.py": "def f():\n    import pkg.mid\n",
                      "mid.py": "from pkg import high\n", "high.py": ""})
    found = reaches(import_graph(tmp_path, "pkg"), "low", ("high",), "pkg")
    assert found == {"low.a": ["low.a -> mid -> high"]}
