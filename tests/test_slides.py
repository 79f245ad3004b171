"""Every notebook builds into an offline reveal.js deck that renders in a real browser.

The decks are built into a temporary folder (``minimodels.slides.build``). The browser
checks open each one in Debian's headless Chromium, driven by Playwright (with the system
browser: Playwright's own browser downloads are never used), and check what a presenter
would see: the title on the first slide, typeset math, decoded figures, the number of
slides the notebook's cell metadata asks for, and that the page asked for nothing outside
the build folder. One screenshot per deck is kept in ``build/screenshots/`` (or
``$MINIMODELS_SCREENSHOTS``) for a person to look at. Without Chromium the browser checks
are skipped, with a message; the build checks still run.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from minimodels import slides

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
SCREENSHOTS = Path(os.environ.get("MINIMODELS_SCREENSHOTS", REPO / "build" / "screenshots"))


def _chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


CHROMIUM = _chromium()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium, as .ci/run does): "
    "the slide decks are built and checked statically, but not opened in a browser",
)


def slide_types(nb) -> list[str]:
    return [c.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") for c in nb["cells"]]


def expected_slides(nb) -> int:
    """Slides a deck must show, read from the cells' metadata the way reveal.js counts them.

    The first visible cell (not skip, not notes) opens the deck; after it, every
    ``slide`` or ``subslide`` cell opens one more (vertical slides count one each).
    """
    types = slide_types(nb)
    first = next(i for i, t in enumerate(types) if t not in ("skip", "notes"))
    return 1 + sum(t in ("slide", "subslide") for t in types[first + 1 :])


def expected_figures(nb) -> int:
    """Image outputs of the cells that appear in the deck."""
    return sum(
        any(k.startswith("image/") for k in out.get("data", {}))
        for cell, t in zip(nb["cells"], slide_types(nb))
        if cell["cell_type"] == "code" and t != "skip"
        for out in cell.get("outputs", [])
    )


def has_math(nb) -> bool:
    return any(
        cell["cell_type"] == "markdown" and t not in ("skip", "notes") and re.search(r"\$[^$\s][^$]*\$", "".join(cell["source"]))
        for cell, t in zip(nb["cells"], slide_types(nb))
    )


def title(nb) -> str:
    first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    heading = next(line for line in "".join(first["source"]).splitlines() if line.startswith("# "))
    return heading[2:].strip()


def load(ipynb: Path) -> dict:
    return json.loads(ipynb.read_text())


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    built = slides.build(out=out)
    return out, {deck.parent.name: deck for deck in built}


# ---------------------------------------------------------------- build, no browser


def test_a_deck_for_every_notebook(decks):
    out, built = decks
    assert NOTEBOOKS, "no executed notebooks to build"
    assert sorted(built) == [nb.stem for nb in NOTEBOOKS]
    assert all(deck == out / deck.parent.name / "index.html" for deck in built.values())


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img") and attrs.get("src"):
            self.refs.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.refs.append(attrs["href"])


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_deck_loads_only_files_of_the_build(decks, ipynb):
    """Every script, stylesheet and image is a relative file of the build (or inline data)."""
    out, built = decks
    deck = built[ipynb.stem]
    parser = _Refs()
    parser.feed(deck.read_text(encoding="utf-8"))
    assert parser.refs, "the deck references no scripts at all"
    for ref in parser.refs:
        if ref.startswith("data:"):
            continue
        assert not urlsplit(ref).scheme, f"{deck.parent.name} loads {ref} from outside the build"
        target = (deck.parent / unquote(urlsplit(ref).path)).resolve()
        assert target.is_file(), f"{deck.parent.name} references {ref}, which the build does not have"
        assert out.resolve() in target.parents, f"{ref} resolves outside the build folder"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_speaker_notes_and_skipped_cells(decks, ipynb):
    """Notes cells become the deck's speaker notes; skipped (setup) cells leave no trace."""
    _, built = decks
    page, nb = built[ipynb.stem].read_text(encoding="utf-8"), load(ipynb)
    types = slide_types(nb)
    assert page.count('<aside class="notes">') == types.count("notes")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # what a reader sees, highlighting removed
    shown = [line.strip() for c, t in zip(nb["cells"], types) if t != "skip" for line in "".join(c["source"]).splitlines()]
    for cell, t in zip(nb["cells"], types):
        lines = [line.strip() for line in "".join(cell["source"]).splitlines() if len(line.strip()) > 12]
        if t == "skip" and cell["cell_type"] == "code":
            own = [line for line in lines if line not in shown][:3]  # lines no visible cell also has
            assert own, "a skipped cell without a line of its own to look for"
            assert not any(line in text for line in own), f"skipped cell shown in the deck: {own}"


def test_unknown_notebook_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"unknown notebook '99_nothing'.*01_segformer_encoder"):
        slides.resolve(["99_nothing"])
    assert slides.resolve(["01"]) == [REPO / "notebooks" / "01_segformer_encoder.ipynb"]
    assert slides.main(["no_such_notebook", "--out", os.devnull]) == 2


def test_expected_slide_count_follows_the_metadata():
    nb = {"cells": [{"cell_type": "code", "metadata": {"slideshow": {"slide_type": t}}} for t in
                    ("skip", "notes", "-", "fragment", "subslide", "notes", "slide", "-", "skip", "subslide")]}
    # the first visible cell ("-") opens the deck; then one subslide, one slide, one subslide
    assert expected_slides(nb) == 4


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@needs_browser
@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_deck_renders_offline_in_chromium(decks, browser, ipynb):
    out, built = decks
    deck, nb = built[ipynb.stem], load(ipynb)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests, failed, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())  # fail fast, still recorded
    try:
        page.goto(deck.as_uri())
        page.wait_for_selector("html[data-deck-ready=true]", timeout=30_000)
        page.wait_for_selector("html[data-math-ready=true]", timeout=60_000)

        # the title slide shows the notebook's title, inside the window
        heading = page.locator(".reveal .slides section.present h1").first
        assert heading.is_visible(), "no visible title on the first slide"
        assert title(nb) in heading.text_content()
        box = heading.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0 and 0 <= box["y"] < 800

        # as many slides as the cell metadata asks for
        assert page.evaluate("Reveal.getTotalSlides()") == expected_slides(nb)

        # math: typeset without errors, every formula rendered
        math = page.evaluate("""() => ({
            sources: document.querySelectorAll('script[type^="math/tex"]').length,
            rendered: document.querySelectorAll('span.MathJax').length,
            errors: document.querySelectorAll('.MathJax_Error, merror').length,
            raw: Array.from(document.querySelectorAll('.reveal .slides .jp-MarkdownOutput'))
                     .filter(e => /\\$\\$/.test(e.textContent)).length,
        })""")
        if has_math(nb):
            assert math["sources"] > 0, "the notebook has math but nothing was typeset"
        assert math["rendered"] == math["sources"], math
        assert math["errors"] == 0 and math["raw"] == 0, math

        # figures: every image output is in the deck and decoded
        images = page.evaluate("""() => Array.from(document.querySelectorAll('.reveal .slides img'))
            .map(i => [i.complete, i.naturalWidth, i.naturalHeight])""")
        figures = expected_figures(nb)
        assert figures >= 1, f"{ipynb.name} has no figure output to show"
        assert len(images) >= figures
        assert all(ok and w > 0 and h > 0 for ok, w, h in images), images

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{ipynb.stem}.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        page.close()

    root = out.resolve().as_uri() + "/"
    outside = [u for u in requests if not (u.startswith(root) or u.startswith("data:"))]
    assert not outside, f"{ipynb.stem} asked for URLs outside the build folder: {outside}"
    assert not failed, f"{ipynb.stem}: requests failed: {failed}"
    assert not errors, f"{ipynb.stem}: script errors: {errors}"
