"""Every notebook is also a reveal.js deck that works offline - two of them: the talk and the full deck.

The slides are the notebooks themselves: each cell's ``slideshow.slide_type`` (kept in
the percent-format ``.py``) says whether it starts a ``slide`` or a ``subslide``, appears
as a ``fragment``, is ``skip``-ped (setup cells) or is a speaker ``notes`` cell (press
``S`` in the deck). Two cell tags shape the decks:

- ``hide-input``: the decks show the cell's output (a figure, a table) but not its code -
  for plotting and table-building code, which is plumbing on a slide;
- ``appendix``: the cell is left out of the talk deck. On a cell that opens a slide or
  subslide, the whole slide goes with it (every cell up to the next slide or subslide).

``python -m minimodels.slides`` (``make slides``) turns every executed ``notebooks/NN_*.ipynb``
- outputs and figures included - into::

    build/slides/index.html          the decks of each paper, with their slide counts
    build/slides/NN_topic/talk.html  the talk: appendix cells left out
    build/slides/NN_topic/index.html the full deck: every slide, appendix ones marked
    build/slides/assets/reveal.js/   reveal.js 5 (from the sphinx-revealjs wheel)
    build/slides/assets/mathjax/     MathJax 2 (from the jupyter-server-mathjax wheel)

A paper's talk is the talk decks of its notebooks one after the other (``NN_<paper>_*``);
it has at most ``TALK_LIMIT`` slides. Tables that ``report.print_table`` printed become
HTML tables in both decks (the notebooks' outputs are not changed).

The decks load every script, style and font from ``assets/`` with relative URLs: open
``index.html`` from disk, or copy ``build/slides`` anywhere, and nothing is fetched from a
network. The template (``minimodels/templates/reveal_offline``) is nbconvert's reveal
template without its CDN scripts (jQuery, require.js, mermaid), and with slides that fit the
window or scroll. Both asset packages are in the ``slides`` extra
(``pip install -e ".[slides]"``; ``make setup`` installs it).
"""

from __future__ import annotations

import argparse
import copy
import html
import importlib.util
import json
import re
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
FULL_DECK = "index.html"
TALK_DECK = "talk.html"
HIDE_INPUT = "hide-input"  # the decks show the cell's output, not its code
APPENDIX = "appendix"  # left out of the talk deck (with its whole slide when it opens one)
TALK_LIMIT = 40  # slides in a paper's talk: about a minute each
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


def paper(notebook) -> str:
    """The paper a notebook belongs to, from its name: ``03_vivit_tokens_models`` -> ``vivit``."""
    parts = Path(notebook).stem.split("_")
    if len(parts) < 3 or not parts[0].isdigit():
        raise ValueError(f"a notebook is named NN_<paper>_<topic>, got {Path(notebook).stem!r}")
    return parts[1]


def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def slide_count(nb) -> int:
    """Slides reveal.js shows for a notebook: its first visible cell (not skip, not notes) opens
    the deck, and after it every ``slide`` or ``subslide`` cell opens one more."""
    types = [slide_type(c) for c in nb["cells"]]
    first = next((i for i, t in enumerate(types) if t not in ("skip", "notes")), None)
    if first is None:
        return 0
    return 1 + sum(t in ("slide", "subslide") for t in types[first + 1 :])


def talk(nb):
    """The notebook without its appendix: a cell tagged ``appendix`` is left out and, when it
    opens a slide or subslide, so is every cell of that slide."""
    nb = copy.deepcopy(nb)
    kept, in_appendix = [], False
    for cell in nb["cells"]:
        if slide_type(cell) in ("slide", "subslide"):
            in_appendix = APPENDIX in tags(cell)
        if not (in_appendix or APPENDIX in tags(cell)):
            kept.append(cell)
    nb["cells"] = kept
    return nb


_RULE = re.compile(r"-+(?:  -+)*")


def _columns(rule: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"-+", rule)]


def _in_columns(line: str, spans) -> bool:
    """Whether ``line`` is a row laid out on the columns of a rule: same length, two spaces
    between columns."""
    if len(line) != spans[-1][1] or not line.strip():
        return False
    return all(line[end:start] == "  " for (_, end), (start, _) in zip(spans, spans[1:]))


def split_tables(text: str) -> list:
    """Text as printed, cut into ``str`` pieces and the tables that ``report.format_table``
    laid out in it: ``(headers, rows)``, read back cell by cell from the columns of the
    dashed rule under the headers."""
    lines, pieces, plain, i = text.split("\n"), [], [], 0
    while i < len(lines):
        rule = lines[i + 1] if i + 1 < len(lines) else ""
        spans = _columns(rule) if _RULE.fullmatch(rule) else None
        if spans and _in_columns(lines[i], spans):
            end = i + 2
            while end < len(lines) and _in_columns(lines[end], spans):
                end += 1
            if plain:
                pieces.append("\n".join(plain) + "\n")
                plain = []
            cells = [[line[a:b].strip() for a, b in spans] for line in (lines[i], *lines[i + 2 : end])]
            pieces.append((cells[0], cells[1:]))
            i = end
        else:
            plain.append(lines[i])
            i += 1
    if any(plain):
        pieces.append("\n".join(plain))
    return pieces


def table_html(headers, rows) -> str:
    """An HTML table laid out like ``report.format_table``: first column left, the others right."""
    def row(tag, cells):
        return "<tr>" + "".join(
            f'<{tag} style="text-align: {"left" if j == 0 else "right"}">{html.escape(c)}</{tag}>'
            for j, c in enumerate(cells)
        ) + "</tr>"

    body = "".join(row("td", r) for r in rows)
    return f'<table class="mm-table"><thead>{row("th", headers)}</thead><tbody>{body}</tbody></table>'


def _text(out) -> str:
    text = out.get("text", "")
    return "".join(text) if isinstance(text, list) else text


def _tables_as_html(nb) -> None:
    """Consecutive prints of a cell become one block of text, as in Jupyter, and the tables
    printed in it (stdout) HTML tables; the text around them stays text."""
    from nbformat.v4 import new_output

    for cell in nb["cells"]:
        merged = []  # consecutive prints are one block of text, as in Jupyter
        for out in cell.get("outputs", []):
            if merged and out.get("output_type") == "stream" and merged[-1].get("output_type") == "stream" \
                    and out.get("name") == merged[-1].get("name"):
                merged[-1] = new_output("stream", name=out["name"], text=_text(merged[-1]) + _text(out))
            else:
                merged.append(out)
        outputs = []
        for out in merged:
            if out.get("output_type") != "stream" or out.get("name") != "stdout":
                outputs.append(out)
                continue
            pieces = split_tables(_text(out))
            if all(isinstance(p, str) for p in pieces):
                outputs.append(out)
                continue
            for piece in pieces:
                if isinstance(piece, str):
                    outputs.append(new_output("stream", name="stdout", text=piece))
                else:
                    headers, rows = piece
                    plain = "\n".join("  ".join(r) for r in [headers, *rows])
                    outputs.append(new_output("display_data", data={"text/html": table_html(headers, rows), "text/plain": plain}))
        if "outputs" in cell:
            cell["outputs"] = outputs


def prepare(nb, deck: str = "full"):
    """The notebook as a deck shows it: ``deck`` is ``"talk"`` (appendix left out) or
    ``"full"`` (appendix slides marked with ``data-appendix`` on their section)."""
    if deck not in ("talk", "full"):
        raise ValueError(f"deck is 'talk' or 'full', got {deck!r}")
    nb = talk(nb) if deck == "talk" else copy.deepcopy(nb)
    if deck == "full":
        for cell in nb["cells"]:
            if APPENDIX in tags(cell) and slide_type(cell) in ("slide", "subslide"):
                cell["metadata"]["slideshow"]["data"] = {"appendix": "true"}
    _tables_as_html(nb)
    return nb


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
    """nbconvert's SlidesExporter with the offline template, the copied assets' URLs, and the
    ``hide-input`` tag wired to nbconvert's TagRemovePreprocessor."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config({"TagRemovePreprocessor": {"enabled": True, "remove_input_tags": [HIDE_INPUT]}})
    return SlidesExporter(
        config=config,
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
    """Build the full deck and the talk deck of every notebook named (default: all), and the
    contents page; return the decks' paths (per notebook: ``index.html``, then ``talk.html``)."""
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
        for name, deck in ((FULL_DECK, "full"), (TALK_DECK, "talk")):
            title = nb_path.stem + (" (talk)" if deck == "talk" else "")
            html_text, _ = slides.from_notebook_node(prepare(nb, deck), resources={"metadata": {"name": title}})
            path = out / nb_path.stem / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(html_text, encoding="utf-8")
            written.append(path)
    write_contents(out)
    return written


def talk_paths() -> dict[str, list[tuple[str, int, int]]]:
    """Per paper, its notebooks in order with their talk and full slide counts."""
    import nbformat

    papers: dict[str, list[tuple[str, int, int]]] = {}
    for nb_path in available():
        nb = nbformat.read(nb_path, as_version=4)
        papers.setdefault(paper(nb_path), []).append((nb_path.stem, slide_count(talk(nb)), slide_count(nb)))
    return papers


def write_contents(out: Path) -> Path:
    """``out/index.html``: every paper's decks in talk order, with their slide counts."""
    parts = []
    for name, notebooks in talk_paths().items():
        total = sum(t for _, t, _ in notebooks)
        items = "".join(
            f'<li>{html.escape(stem)}: <a href="{stem}/{TALK_DECK}">talk</a> ({t} slides), '
            f'<a href="{stem}/{FULL_DECK}">full deck</a> ({f} slides)'
            + ("" if (out / stem / TALK_DECK).is_file() else " - not built yet") + "</li>"
            for stem, t, f in notebooks
        )
        parts.append(f"<h2>{html.escape(name)}: a talk of {total} slides</h2><ol>{items}</ol>")
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>minimodels slides</title>'
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.5}</style></head><body>"
        "<h1>minimodels: the decks</h1><p>A paper's talk is the talk decks of its notebooks, in order; "
        "the full decks add the appendix (deep dives, discussion questions).</p>"
        + "".join(parts) + "</body></html>\n"
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


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
    for name, notebooks in talk_paths().items():
        total = sum(t for _, t, _ in notebooks)
        counts = " + ".join(str(t) for _, t, _ in notebooks)
        over = f" - over the {TALK_LIMIT}-slide limit" if total > TALK_LIMIT else ""
        print(f"{name} talk: {counts} = {total} slides{over}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
