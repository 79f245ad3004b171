"""Every notebook is a pair (.py source + executed .ipynb) that stays in sync.

nbval itself runs the .ipynb files (pytest collects them from ``notebooks/`` with
``--nbval``, strict); these tests check what nbval cannot: that the committed
outputs exist and come from one top-to-bottom run, and that the .py is the same
notebook.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9]*.py"))
EXECUTED = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_notebooks():
    assert SOURCES, f"no notebooks/NN_*.py found in {NOTEBOOKS}"


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.name)
def test_every_source_has_an_executed_notebook(py):
    assert py.with_suffix(".ipynb").exists(), f"{py.name} has no executed {py.stem}.ipynb (run `make notebooks`)"


@pytest.mark.parametrize("ipynb", EXECUTED, ids=lambda p: p.name)
def test_pair_in_sync(ipynb):
    py = ipynb.with_suffix(".py")
    assert py.exists(), f"{ipynb.name} has no paired {py.name}"
    out = subprocess.run(
        [sys.executable, "-m", "jupytext", "--to", "py:percent", "-o", "-", str(ipynb)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out == py.read_text(), f"{ipynb.name} and {py.name} differ: edit the .py, then `make notebooks NB={py}`"


@pytest.mark.parametrize("ipynb", EXECUTED, ids=lambda p: p.name)
def test_executed_top_to_bottom_with_outputs(ipynb):
    nb = json.loads(ipynb.read_text())
    cells = _code_cells(nb)
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{ipynb.name}: execution counts {counts} - expected 1..{len(cells)} from one top-to-bottom run"
    )
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{ipynb.name} has error outputs: {[e.get('ename') for e in errors]}"
    with_output = sum(bool(c.get("outputs")) for c in cells)
    assert with_output >= len(cells) // 2, f"{ipynb.name}: only {with_output}/{len(cells)} code cells have outputs"
    stderr = [c["source"] for c in cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert not stderr, f"{ipynb.name}: cells wrote to stderr (warnings?): {stderr[:2]}"


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.name)
def test_source_runs_as_a_plain_script(py):
    """No IPython magics or shell escapes: the .py must run with plain `python` on a GPU box."""
    magic = re.compile(r"^\s*[%!]", re.M)
    code = "\n".join(
        line for line in py.read_text().splitlines() if not line.startswith("#")
    )
    assert not magic.search(code), f"{py.name} uses IPython magics or shell escapes"
    compile(py.read_text(), str(py), "exec")


@pytest.mark.parametrize("ipynb", EXECUTED, ids=lambda p: p.name)
def test_every_figure_is_shown_under_a_stable_name(ipynb):
    """Figures go through report's show(fig, name), so `make figures` exports each one, once.

    A cell with an image output must call show(); literal names must not repeat
    (a repeated name would overwrite the other figure's PNG and SVG).
    """
    nb = json.loads(ipynb.read_text())
    names = []
    for cell in _code_cells(nb):
        src = "".join(cell["source"])
        names += re.findall(r"\bshow\(\s*[\w.]+\s*,\s*[\"']([^\"']+)[\"']", src)
        has_image = any(k.startswith("image/") for o in cell.get("outputs", []) for k in o.get("data", {}))
        assert not has_image or re.search(r"\bshow\(", src), (
            f"{ipynb.name}: a cell draws a figure without show(fig, name): {src[:120]!r}"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"{ipynb.name}: figure names used twice: {repeated}"
