"""The shape of the package: no import cycles among gans_jax modules, no module over 600 lines."""

import ast
import pathlib
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "gans_jax"
MAX_LINES = 600


def module_names() -> dict[str, pathlib.Path]:
    """``{"gans_jax.data.pipeline": path, "gans_jax.data": .../data/__init__.py, ...}``."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"


def imports_of(name: str, path: pathlib.Path, modules) -> set[str]:
    """The gans_jax modules that ``name`` imports anywhere in its file: at module level and inside
    functions (imports under ``if TYPE_CHECKING:`` never run and are left out). ``from p import x``
    counts as importing ``p.x`` when that is a module, else ``p``. The implicit import of a parent
    package (Python runs ``gans_jax/data/__init__.py`` before ``gans_jax.data.sources``) is not counted,
    nor are modules named in strings (``cli.COMMANDS`` and importlib)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    pending = list(ast.parse(path.read_text(), str(path)).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        pending.extend(ast.iter_child_nodes(node))
    return {m for m in found if m in modules and m != name}


def import_cycles() -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm), as a cycle path."""
    modules = module_names()
    graph = {name: sorted(imports_of(name, path, modules)) for name, path in modules.items()}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in graph:
        if v not in index:
            visit(v)
    return [_cycle_path(group, graph) for group in groups]


def _cycle_path(group: list[str], graph) -> list[str]:
    """One cycle through the group, ``a -> b -> ... -> a``, found by walking inside the group."""
    members, path = set(group), [min(group)]
    while True:
        step = next(w for w in graph[path[-1]] if w in members)
        if step in path:
            return [*path[path.index(step) :], step]
        path.append(step)


def test_the_cycle_finder_sees_function_local_imports(tmp_path, monkeypatch):
    """A cycle closed only by an import inside a function, as cli -> training/loop -> metrics/evaluate
    -> cli was, is found; an import under ``if TYPE_CHECKING:`` (d -> a) closes none."""
    root = tmp_path / "gans_jax"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "a.py").write_text("from gans_jax import d\nfrom gans_jax.sub import b\n")
    (root / "sub" / "b.py").write_text("from . import c\n")
    (root / "sub" / "c.py").write_text("def f():\n    from gans_jax import a\n")
    (root / "d.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from gans_jax import a\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", root)
    assert import_cycles() == [["gans_jax.a", "gans_jax.sub.b", "gans_jax.sub.c", "gans_jax.a"]]


def test_no_import_cycles():
    """Module-level and function-local imports both count (a function-local import still runs, and
    today's two cycles went through such imports)."""
    cycles = import_cycles()
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_over_600_lines():
    lengths = {name: len(path.read_text().splitlines()) for name, path in module_names().items()}
    long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
