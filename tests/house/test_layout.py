"""The house rules of the code's layout: no import circle spans ingest/ and monitor/, the
monitor package keeps few top-level modules, and no view borrows another module's private
names. Read from the source with `ast`, so every import counts, also those inside functions."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ingest", "monitor")
MAX_MONITOR_TOP_LEVEL = 14


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            if "migrations" in rel.parts:
                continue
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports (a `from package import name` of a submodule counts
    as importing the submodule)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in modules else base)
    return {t for t in targets if t in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(component)
    return out


def test_no_import_circle_spans_ingest_and_monitor():
    graph = _graph()
    assert "ingest.storage" in graph and "monitor.pipeline.aggregate" in graph
    spanning = [sorted(c) for c in _cycles(graph) if {m.split(".")[0] for m in c} == set(PACKAGES)]
    assert spanning == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_monitor_top_level_holds_few_modules():
    top = sorted(p.name for p in (ROOT / "monitor").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= MAX_MONITOR_TOP_LEVEL, top


def test_no_view_imports_a_private_name_from_another_module():
    borrowed = []
    for path in (ROOT / "monitor").rglob("*.py"):
        if "views" not in path.stem and "views" not in path.parent.name:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                borrowed += [
                    f"{path.relative_to(ROOT)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    assert borrowed == []


# How a path to a folder beside the checkout would be spelled.
OUTSIDE_MARKS = ('"shared"', "../shared", "parents[2].parent")


def test_tests_read_their_data_from_the_repository():
    from tests.ingest.samples import SHARED, sample_cases

    assert SHARED.is_relative_to(ROOT / "tests" / "data")
    assert len(sample_cases()) >= 17
    outside = [
        str(path.relative_to(ROOT))
        for folder in ("tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path != Path(__file__) and any(mark in path.read_text() for mark in OUTSIDE_MARKS)
    ]
    assert outside == []
