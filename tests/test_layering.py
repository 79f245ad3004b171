"""The package's import stack, read from the source with ``ast`` (lazy imports included):

    notebooks -> recipes -> models -> layers / kmeans / flops / metrics / tokens -> torch

``data`` knows no model and no recipe, ``hf`` imports models (never the reverse), the training
loop imports no recipe, and nothing imports a private name from another module."""

import ast
from pathlib import Path

import pytest

import minimodels

PACKAGE = Path(minimodels.__file__).parent
MODELS = {"segformer", "vivit", "videobert", "bert", "s3d", "captioner"}
# (group of the importer, group of the imported) that must never occur
FORBIDDEN = {
    ("model", "data"), ("model", "hf"), ("model", "recipes"), ("model", "train"), ("model", "report"),
    ("data", "model"), ("data", "recipes"), ("data", "hf"), ("data", "train"),
    ("train", "recipes"), ("train", "model"), ("train", "data"),
    ("hf", "recipes"), ("hf", "train"),
    ("base", "model"), ("base", "recipes"), ("base", "data"), ("base", "hf"), ("base", "train"),
}
BASE = {"layers", "kmeans", "flops", "metrics", "tokens", "profiles"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def group(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return "package"
    if parts[1] in MODELS:
        return "model"
    if parts[1] in BASE:
        return "base"
    return parts[1]  # data, recipes, hf, train, report, slides


def imports(path: Path, modules: set[str]):
    """(line, imported module, imported names) for every import in the file, resolved to the
    package's modules (``from minimodels.data import howto`` -> ``minimodels.data.howto``)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base, a.name) for a in node.names]
        else:
            continue
        for target, name in targets:
            parts = target.split(".")
            for k in range(len(parts), 0, -1):  # the longest prefix that is a module of the package
                if ".".join(parts[:k]) in modules:
                    yield node.lineno, ".".join(parts[:k]), name
                    break


def import_graph():
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for m, p in files.items():
        edges[m] = [(line, t, name) for line, t, name in imports(p, set(files))
                    if t != m and t != "minimodels" and not m.startswith(t + ".")]
    return files, edges


def cycles(edges) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for _, w, _ in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    _, edges = import_graph()
    assert cycles(edges) == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles(edges))


def test_no_forbidden_edge():
    files, edges = import_graph()
    bad = [f"{files[m].relative_to(PACKAGE.parent)}:{line} imports {t} ({group(m)} -> {group(t)})"
           for m, targets in edges.items() for line, t, _ in targets if (group(m), group(t)) in FORBIDDEN]
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_no_private_name_imported_across_modules():
    files, edges = import_graph()
    bad = [f"{files[m].relative_to(PACKAGE.parent)}:{line} imports {name} from {t}"
           for m, targets in edges.items() for line, t, name in targets
           if name and name.startswith("_") and not name.startswith("__")]
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_the_checks_catch_what_they_guard(tmp_path, monkeypatch):
    """A model importing the data world, a cycle and a private import are each found."""
    pkg = tmp_path / "minimodels"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("")
    (pkg / "data" / "howto.py").write_text("from minimodels.layers import _helper\n")
    (pkg / "layers.py").write_text("from minimodels import videobert\n_helper = 1\n")
    (pkg / "videobert.py").write_text("def f():\n    from .data.howto import VERBS\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    files, edges = import_graph()
    assert cycles(edges) == [["minimodels.data.howto", "minimodels.layers", "minimodels.videobert"]]
    with pytest.raises(AssertionError, match=r"videobert.py:2 imports minimodels.data.howto \(model -> data\)"):
        test_no_forbidden_edge()
    with pytest.raises(AssertionError, match="imports _helper from minimodels.layers"):
        test_no_private_name_imported_across_modules()
