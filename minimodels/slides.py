"""Every notebook is also a reveal.js deck that works offline.

The slides are the notebooks themselves: each cell's ``slideshow.slide_type`` (kept in
the percent-format ``.py``) says whether it starts a ``slide`` or a ``subslide``, appears
as a ``fragment``, is ``skip``-ped (setup cells) or is a speaker ``notes`` cell (press
``S`` in the deck). ``python -m minimodels.slides`` (``make slides``) turns every executed
``notebooks/NN_*.ipynb`` - outputs and figures included - into::

    build/slides/assets/reveal.js/   reveal.js 5 (from the sphinx-revealjs wheel)
    build/slides/assets/mathjax/     MathJax 2 (from the jupyter-server-mathjax wheel)
    build/slides/NN_topic/index.html one deck per notebook

The decks load every script, style and font from ``assets/`` with relative URLs: open
``index.html`` from disk, or copy ``build/slides`` anywhere, and nothing is fetched from a
network. The template (``minimodels/templates/reveal_offline``) is nbconvert's reveal
template without its CDN scripts (jQuery, require.js, mermaid). Both asset packages are in
the ``slides`` extra (``pip install -e ".[slides]"``; ``make setup`` installs it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
DEFAULT_OUT = REPO_ROOT / "build" / "slides"
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "reveal_offline"
REVEAL_DIR = "assets/reveal.js"
MATHJAX_DIR = "assets/mathjax"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
# Which files of each package a deck needs (relative to the package's asset root).
_REVEAL_FILES = ("LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme", "plugin/notes/notes.js")
_MATHJAX_FILES = ("LICENSE", "MathJax.js", "config", "extensions", "jax", "fonts")


def _package_dir(package: str, inside: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the offline decks need the Python package {package!r}, which bundles {inside.split('/')[-1]}: "
            f"install the slides extra (pip install -e \".[slides]\", or make setup)"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / inside
    if not root.is_dir():
        raise RuntimeError(f"{package} is installed but has no {inside} folder (looked in {root})")
    return root


def reveal_root() -> Path:
    """reveal.js 5 as shipped in the sphinx-revealjs wheel."""
    return _package_dir("sphinx_revealjs", "_static/revealjs")


def mathjax_root() -> Path:
    """MathJax 2.7 as shipped in the jupyter-server-mathjax wheel."""
    return _package_dir("jupyter_server_mathjax", "static")


def available() -> list[Path]:
    """Every executed notebook that gets a deck: notebooks/[0-9]*.ipynb."""
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def resolve(names) -> list[Path]:
    """Notebook paths for names given as stems (``01_segformer_encoder``), prefixes (``01``) or paths."""
    notebooks = available()
    if not names:
        if not notebooks:
            raise FileNotFoundError(f"no executed notebooks (NN_*.ipynb) in {NOTEBOOKS}")
        return notebooks
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix in (".ipynb", ".py"):
            path = path.with_suffix(".ipynb")
            if path.is_file():
                chosen.append(path.resolve())
                continue
        stem = path.with_suffix("").name if path.suffix in (".ipynb", ".py") else str(name)
        matches = [nb for nb in notebooks if nb.stem == stem] or [nb for nb in notebooks if nb.stem.startswith(stem + "_")]
        if len(matches) != 1:
            known = ", ".join(nb.stem for nb in notebooks) or "none"
            raise ValueError(f"unknown notebook {name!r}: expected one of {known} (or its number, e.g. '01')")
        chosen.append(matches[0])
    return chosen


def _copy(src_root: Path, files, dst_root: Path) -> None:
    for rel in files:
        src, dst = src_root / rel, dst_root / rel
        if not src.exists():
            raise RuntimeError(f"{src} is missing: the installed package does not have the expected layout")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


def copy_assets(out: Path) -> None:
    """Copy reveal.js and MathJax under ``out/assets`` (skipped when the same versions are there)."""
    from importlib.metadata import version

    stamp = out / "assets" / "versions.json"
    want = {"sphinx-revealjs": version("sphinx-revealjs"), "jupyter-server-mathjax": version("jupyter-server-mathjax")}
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return
    _copy(reveal_root(), _REVEAL_FILES, out / REVEAL_DIR)
    _copy(mathjax_root(), _MATHJAX_FILES, out / MATHJAX_DIR)
    stamp.write_text(json.dumps(want, indent=1))


def exporter():
    """nbconvert's SlidesExporter with the offline template and the copied assets' URLs."""
    from nbconvert import SlidesExporter

    return SlidesExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name=TEMPLATE_NAME,
        reveal_url_prefix=f"../{REVEAL_DIR}",
        mathjax_url=f"../{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}",
        reveal_theme="white",
        reveal_width="1280",
        reveal_height="800",
        reveal_number="c/t",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def build(names=(), out: Path | str = DEFAULT_OUT) -> list[Path]:
    """Build one offline deck per notebook; return the paths of their ``index.html``."""
    import nbformat

    notebooks = resolve(names)
    out = Path(out).resolve()
    copy_assets(out)
    slides = exporter()
    written = []
    for nb_path in notebooks:
        nb = nbformat.read(nb_path, as_version=4)
        if "widgets" in nb.metadata:
            raise ValueError(f"{nb_path.name} has widget state, whose scripts only come from a CDN: clear it first")
        html, _ = slides.from_notebook_node(nb, resources={"metadata": {"name": nb_path.stem}})
        deck = out / nb_path.stem / "index.html"
        deck.parent.mkdir(parents=True, exist_ok=True)
        deck.write_text(html, encoding="utf-8")
        written.append(deck)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minimodels.slides", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names, numbers or paths (default: every notebook)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        decks = build(args.notebooks, args.out)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for deck in decks:
        print(deck)
    return 0


if __name__ == "__main__":
    sys.exit(main())
