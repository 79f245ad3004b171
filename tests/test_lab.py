"""`make lab`: JupyterLab on notebooks/ keeps every pair in sync, and the settings `make setup`
installs are settings JupyterLab and RISE really have.

The pairing checks run Jupytext's contents manager - what JupyterLab saves and opens files
through - rooted at a copy of the notebooks folder, as `make lab` roots the server at notebooks/:
the configuration must be found from there, saving the .ipynb must write the .py, and a .py must
open as a notebook with its paired outputs and save back to both files.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
OVERRIDES = REPO / "minimodels" / "templates" / "jupyterlab" / "overrides.json"
PAIR = "08_videobert_data_size"  # a small notebook


@pytest.fixture
def served(tmp_path):
    """A copy of the notebooks folder as `make lab` serves it: the config, rise.css and one pair."""
    for name in ("jupytext.toml", "rise.css", f"{PAIR}.py", f"{PAIR}.ipynb"):
        shutil.copy2(NOTEBOOKS / name, tmp_path / name)
    jupytext = pytest.importorskip("jupytext", reason="jupytext (notebooks extra) is not installed")
    return tmp_path, jupytext.AsyncTextFileContentsManager(root_dir=str(tmp_path))


def as_py(ipynb: Path) -> str:
    return subprocess.run([sys.executable, "-m", "jupytext", "--to", "py:percent", "-o", "-", str(ipynb)],
                          capture_output=True, text=True, check=True).stdout


def test_the_served_folder_has_the_pairing_config():
    from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

    path = find_jupytext_configuration_file(str(NOTEBOOKS), search_parent_dirs=False)
    assert path == str(NOTEBOOKS / "jupytext.toml"), "the config must sit in the folder `make lab` serves"
    config = load_jupytext_configuration_file(path)
    assert config.formats in ("ipynb,py:percent", ["ipynb,py:percent"])
    assert config.cell_metadata_filter == "tags,slideshow,-all" and config.notebook_metadata_filter == "-all"


def test_saving_the_ipynb_in_jupyterlab_writes_the_py(served):
    root, cm = served
    model = asyncio.run(cm.get(f"{PAIR}.ipynb"))
    cell = next(c for c in model["content"]["cells"] if c["cell_type"] == "markdown")
    cell["source"] += "\n\nedited in the ipynb"
    asyncio.run(cm.save({"type": "notebook", "content": model["content"]}, f"{PAIR}.ipynb"))
    py = (root / f"{PAIR}.py").read_text()
    assert "# edited in the ipynb" in py
    assert py == as_py(root / f"{PAIR}.ipynb"), "the pair is no longer exact after a save"


def test_a_py_opens_as_a_notebook_with_its_outputs_and_saves_both(served):
    root, cm = served
    model = asyncio.run(cm.get(f"{PAIR}.py"))
    assert model["type"] == "notebook"
    outputs = [o for c in model["content"]["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert outputs, "the .py opened without the outputs of its .ipynb: the pairing config was not found"
    cell = next(c for c in model["content"]["cells"] if c["cell_type"] == "markdown")
    cell["source"] += "\n\nedited in the py"
    asyncio.run(cm.save({"type": "notebook", "content": model["content"]}, f"{PAIR}.py"))
    import nbformat

    saved = nbformat.read(root / f"{PAIR}.ipynb", as_version=4)
    assert any("edited in the py" in c["source"] for c in saved["cells"])
    assert [o for c in saved["cells"] if c["cell_type"] == "code" for o in c["outputs"]] == outputs
    assert (root / f"{PAIR}.py").read_text() == as_py(root / f"{PAIR}.ipynb")


def _schema(plugin: str) -> Path | None:
    """Where JupyterLab keeps a plugin's settings schema: core plugins under lab/schemas,
    extensions under labextensions/<extension>/schemas."""
    package, name = plugin.split(":")
    share = Path(sys.prefix) / "share" / "jupyter"
    for path in (share / "lab" / "schemas" / package / f"{name}.json",
                 share / "labextensions" / package / "schemas" / package / f"{name}.json"):
        if path.is_file():
            return path
    return None


def test_lab_settings_are_settings_the_installed_plugins_have():
    """Every key of overrides.json is a property of its plugin's schema, with an allowed value
    (a misspelt key is silently ignored by JupyterLab)."""
    overrides = json.loads(OVERRIDES.read_text())
    assert overrides["jupyterlab-rise:plugin"]["scroll"] is True
    checked = 0
    for plugin, values in overrides.items():
        path = _schema(plugin)
        if path is None:
            pytest.skip(f"{plugin} is not installed here (notebooks extra): its schema cannot be checked")
        properties = json.loads(path.read_text())["properties"]
        for key, value in values.items():
            assert key in properties, f"{plugin} has no setting {key!r} (schema {path})"
            allowed = properties[key].get("enum") or [
                one.get("const") for one in properties[key].get("oneOf", []) if "const" in one
            ]
            if allowed and not any("type" in one for one in properties[key].get("oneOf", [])):
                assert value in allowed, f"{plugin}.{key} = {value!r}, not one of {allowed}"
            checked += 1
    assert checked >= 5


def test_rise_css_is_where_rise_loads_it():
    """RISE loads rise.css from the notebook's own folder: the talk's text size lives there."""
    css = (NOTEBOOKS / "rise.css").read_text()
    assert "--jp-content-font-size1" in css and "--jp-code-font-size" in css
