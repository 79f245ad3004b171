"""Every notebook builds into two offline reveal.js decks - the talk and the full deck - that
fit the screen in a real browser.

The decks are built into a temporary folder (``minimodels.slides.build``). The build checks
read the HTML: only files of the build, speaker notes, skipped, hidden and appendix cells, each
paper's talk within its slide budget, code on talk slides short and narrow enough. The
browser checks open each deck in Debian's headless Chromium, driven by Playwright (with the
system browser: Playwright's own browser downloads are never used), at 1280x800 and at
1024x768, and visit every slide with reveal's API, every fragment shown. A slide fails when
its content leaves the window and cannot be scrolled to, when a figure cannot be seen whole
(scrolled to, at its own aspect ratio), when a code line or a table is cut at the right edge
or when code is shrunk below a readable size. One screenshot per deck (its title slide), and
one of every slide that fails, are kept in ``build/screenshots/`` (or
``$MINIMODELS_SCREENSHOTS``) for a person to look at. Without Chromium the browser checks are
skipped, with a message; the build checks still run.
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

from minimodels import report, slides

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
SCREENSHOTS = Path(os.environ.get("MINIMODELS_SCREENSHOTS", REPO / "build" / "screenshots"))
KINDS = {"full": slides.FULL_DECK, "talk": slides.TALK_DECK}
VIEWPORTS = [(1280, 800), (1024, 768)]
# Notebooks whose talk path is not tagged yet (their talk deck is still the whole notebook): the
# talk budget keeps this many slides for each, and their code is not held to the talk's limits -
# until the notebook has a cell tagged appendix; from then on it is checked like the others.
TALK_PENDING = {"02_segformer_decoder_training": 20}
CODE_LINES, CODE_WIDTH = 16, 90  # visible code on a talk slide: about 15 lines, 90 characters


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


def load(ipynb: Path) -> dict:
    return json.loads(ipynb.read_text())


def pending(stem: str) -> bool:
    """Whether a notebook's talk path is still to be tagged (see TALK_PENDING)."""
    path = REPO / "notebooks" / f"{stem}.ipynb"
    return stem in TALK_PENDING and not any(slides.APPENDIX in slides.tags(c) for c in load(path)["cells"])


def shown(nb, kind: str) -> dict:
    """The notebook as the deck of that kind shows it (appendix left out of the talk)."""
    return slides.talk(nb) if kind == "talk" else nb


def expected_figures(nb) -> int:
    """Image outputs of the cells that appear in the deck."""
    return sum(
        any(k.startswith("image/") for k in out.get("data", {}))
        for cell in nb["cells"]
        if cell["cell_type"] == "code" and slides.slide_type(cell) != "skip"
        for out in cell.get("outputs", [])
    )


def has_math(nb) -> bool:
    return any(
        cell["cell_type"] == "markdown" and slides.slide_type(cell) not in ("skip", "notes")
        and re.search(r"\$[^$\s][^$]*\$", "".join(cell["source"]))
        for cell in nb["cells"]
    )


def title(nb) -> str:
    first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    heading = next(line for line in "".join(first["source"]).splitlines() if line.startswith("# "))
    return heading[2:].strip()


def own_lines(cell, others, n=3) -> list[str]:
    """Up to n distinctive source lines of a cell that no cell of ``others`` also has."""
    elsewhere = {line.strip() for c in others if c is not cell for line in "".join(c["source"]).splitlines()}
    lines = [line.strip() for line in "".join(cell["source"]).splitlines() if len(line.strip()) > 12]
    return [line for line in lines if line not in elsewhere][:n]


PROSE = re.compile(r"[A-Za-z][A-Za-z0-9 ,.;:()/'+=-]*")  # a line that markdown renders as it is


def visible_text(page: str) -> str:
    """What a reader sees of a deck's HTML: tags and highlighting removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    built = slides.build(out=out)
    return out, {(deck.parent.name, kind): deck for deck in built for kind, name in KINDS.items() if deck.name == name}


# ---------------------------------------------------------------- build, no browser


def test_two_decks_for_every_notebook_and_a_contents_page(decks):
    out, built = decks
    assert NOTEBOOKS, "no executed notebooks to build"
    assert sorted(built) == sorted((nb.stem, kind) for nb in NOTEBOOKS for kind in KINDS)
    assert all(deck == out / stem / KINDS[kind] for (stem, kind), deck in built.items())
    contents = (out / "index.html").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        assert f'href="{nb.stem}/{slides.TALK_DECK}"' in contents and f'href="{nb.stem}/{slides.FULL_DECK}"' in contents
    assert "not built yet" not in contents


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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_deck_loads_only_files_of_the_build(decks, ipynb, kind):
    """Every script, stylesheet and image is a relative file of the build (or inline data)."""
    out, built = decks
    deck = built[ipynb.stem, kind]
    parser = _Refs()
    parser.feed(deck.read_text(encoding="utf-8"))
    assert any(ref.endswith("reveal.js") for ref in parser.refs), "the deck does not load reveal.js"
    for ref in parser.refs:
        if ref.startswith("data:"):
            continue
        assert not urlsplit(ref).scheme, f"{deck.parent.name}/{deck.name} loads {ref} from outside the build"
        target = (deck.parent / unquote(urlsplit(ref).path)).resolve()
        assert target.is_file(), f"{deck.parent.name}/{deck.name} references {ref}, which the build does not have"
        assert out.resolve() in target.parents, f"{ref} resolves outside the build folder"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notes_skipped_hidden_and_appendix_cells(decks, ipynb, kind):
    """Notes cells become speaker notes; skipped (setup) cells and the code of ``hide-input``
    cells leave no trace (their outputs stay); the talk deck has no appendix cell, the full
    deck has every one."""
    _, built = decks
    page, nb = built[ipynb.stem, kind].read_text(encoding="utf-8"), load(ipynb)
    cells = shown(nb, kind)["cells"]
    assert page.count('<aside class="notes">') == [slides.slide_type(c) for c in cells].count("notes")
    text = visible_text(page)
    visible = [c for c in nb["cells"] if slides.slide_type(c) != "skip" and slides.HIDE_INPUT not in slides.tags(c)]
    for cell in nb["cells"]:
        hidden = slides.slide_type(cell) == "skip" or slides.HIDE_INPUT in slides.tags(cell)
        if cell["cell_type"] == "code" and hidden:
            own = own_lines(cell, visible)
            assert own, "a skipped or hidden cell without a line of its own to look for"
            assert not any(line in text for line in own), f"code of a skipped or hidden cell shown in the {kind} deck: {own}"
    in_talk = {c["id"] for c in slides.talk(nb)["cells"]}
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown" or slides.slide_type(cell) == "skip":
            continue
        own = [line for line in own_lines(cell, nb["cells"], n=5) if PROSE.fullmatch(line)][:1]
        if not own:
            continue
        if kind == "full" or cell["id"] in in_talk:
            assert own[0] in text, f"{kind} deck is missing a markdown cell: {own[0]!r}"
        else:
            assert own[0] not in text, f"appendix cell in the talk deck: {own[0]!r}"


def test_hidden_input_keeps_its_output(decks):
    """A ``hide-input`` cell with a figure: the figure is in both decks, its code in neither."""
    _, built = decks
    found = 0
    for ipynb in NOTEBOOKS:
        nb = load(ipynb)
        for cell in nb["cells"]:
            if slides.HIDE_INPUT not in slides.tags(cell) or slides.slide_type(cell) == "skip":
                continue
            pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            for kind in KINDS:
                if kind == "talk" and cell["id"] not in {c["id"] for c in slides.talk(nb)["cells"]}:
                    continue
                page = built[ipynb.stem, kind].read_text(encoding="utf-8")
                for png in pngs:
                    assert "".join(png).strip()[:200] in page, f"{ipynb.stem} {kind}: a hidden cell's figure is missing"
                    found += 1
    assert found, "no hide-input cell with a figure in any notebook: the tag is not used"


def test_hide_input_is_only_on_code_cells():
    """On a markdown cell the tag would hide the text itself."""
    for ipynb in NOTEBOOKS:
        wrong = [c["id"] for c in load(ipynb)["cells"] if slides.HIDE_INPUT in slides.tags(c) and c["cell_type"] != "code"]
        assert not wrong, f"{ipynb.stem}: hide-input on cells that are not code: {wrong}"


def test_appendix_leaves_the_talk_with_its_slide():
    cell = lambda t, *tags: {"cell_type": "markdown", "source": t, "metadata": {"slideshow": {"slide_type": t}, "tags": list(tags)}}
    nb = {"cells": [cell("slide"), cell("-"), cell("subslide", "appendix"), cell("notes"), cell("fragment"),
                    cell("subslide"), cell("-", "appendix"), cell("fragment"), cell("slide", "appendix"), cell("subslide")]}
    kept = slides.talk(nb)["cells"]
    assert [c["source"] for c in kept] == ["slide", "-", "subslide", "fragment", "subslide"]
    assert slides.slide_count(nb) == 5 and slides.slide_count(slides.talk(nb)) == 3
    full = slides.prepare(nb, "full")["cells"]
    assert [bool(c["metadata"]["slideshow"].get("data")) for c in full] == [c["source"] in ("subslide", "slide") and "appendix" in c["metadata"]["tags"] for c in nb["cells"]]
    with pytest.raises(ValueError, match="talk.*full"):
        slides.prepare(nb, "short")


def test_slide_count_follows_the_metadata():
    nb = {"cells": [{"cell_type": "code", "metadata": {"slideshow": {"slide_type": t}}} for t in
                    ("skip", "notes", "-", "fragment", "subslide", "notes", "slide", "-", "skip", "subslide")]}
    # the first visible cell ("-") opens the deck; then one subslide, one slide, one subslide
    assert slides.slide_count(nb) == 4


def test_printed_tables_are_read_back_cell_by_cell():
    rows = [("ViT-B/16", "-", 1024, None), ("MiT  B0", 1, 3.25, "a b"), ("x", 22, 1e6, "")]
    headers = ["encoder", "stage", "value", "note"]
    text = "before the table\n" + report.format_table(rows, headers) + "\nafter\n\n"
    before, (head, body), after = slides.split_tables(text)
    assert before == "before the table\n" and after == "after\n\n"
    assert head == headers
    assert body == [[report._fmt(v).strip() for v in row] for row in rows]
    table = slides.table_html(head, body)
    assert table.count("<tr>") == 4 and "MiT  B0" in table and "<td" in table
    assert slides.split_tables("no table\n---\nhere") == ["no table\n---\nhere"]
    assert slides.split_tables("a  b\n-  -\n1  2345\n") == [(["a", "b"], []), "1  2345\n"], "a line of another width ends it"


def test_notebooks_belong_to_their_paper():
    assert [slides.paper(nb) for nb in NOTEBOOKS[:1]] == ["segformer"]
    with pytest.raises(ValueError, match="NN_<paper>_<topic>"):
        slides.paper("GLOSSARY.md")


def test_each_talk_fits_its_slide_budget():
    """A paper's talk - the talk decks of its notebooks - has at most TALK_LIMIT slides (a
    notebook whose talk path is still to be tagged is counted at its reserved share)."""
    for name, notebooks in slides.talk_paths().items():
        counts = {stem: TALK_PENDING[stem] if pending(stem) else talk for stem, talk, _ in notebooks}
        assert sum(counts.values()) <= slides.TALK_LIMIT, f"{name}'s talk has {counts} slides: over {slides.TALK_LIMIT}"
        assert all(talk >= 3 for talk in counts.values()), f"{name}: a notebook with hardly any talk slide: {counts}"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_talk_slides_show_short_code(ipynb):
    """Code a talk slide shows (not skipped, not hidden): at most about 15 lines of at most 90
    characters."""
    if pending(ipynb.stem):
        pytest.skip(f"{ipynb.stem}: talk path not tagged yet")
    for cell in slides.talk(load(ipynb))["cells"]:
        if cell["cell_type"] != "code" or slides.slide_type(cell) == "skip" or slides.HIDE_INPUT in slides.tags(cell):
            continue
        lines = "".join(cell["source"]).splitlines()
        assert len(lines) <= CODE_LINES, f"{ipynb.stem}: {len(lines)} lines of code on a talk slide: {lines[0]!r}"
        wide = [line for line in lines if len(line) > CODE_WIDTH]
        assert not wide, f"{ipynb.stem}: code wider than {CODE_WIDTH} characters on a talk slide: {wide[0]!r}"


def test_the_presenters_guide_follows_the_talk_paths():
    """docs/PRESENTING.md: each paper's table of minutes adds up to its total, within 30-45, and
    cites only slides that the talk decks have."""
    guide = (REPO / "docs" / "PRESENTING.md").read_text()
    talks = {stem[:2]: talk for notebooks in slides.talk_paths().values() for stem, talk, _ in notebooks}
    tables = re.findall(r"\*\*(\w+)\*\* \(notebooks [^)]*\)\n\n((?:\|.*\n)+)", guide)
    assert {name for name, _ in tables} == {"SegFormer", "ViViT", "VideoBERT"}
    for name, table in tables:
        rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
        minutes = [int(row[2]) for row in rows if row[2].isdigit()]
        total = int(next(row[2].strip("*") for row in rows if "total" in row[0]))
        assert sum(minutes) == total and 30 <= total <= 45, f"{name}: minutes {minutes} against a total of {total}"
        for nn, last in re.findall(r"\b(\d\d): (?:\d+-)?(\d+)\b", table):
            assert int(last) <= talks[nn], f"{name}: the guide cites slide {last} of notebook {nn}'s talk, which has {talks[nn]}"


def test_unknown_notebook_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"unknown notebook '99_nothing'.*01_segformer_encoder"):
        slides.resolve(["99_nothing"])
    assert slides.resolve(["01"]) == [REPO / "notebooks" / "01_segformer_encoder.ipynb"]
    assert slides.main(["no_such_notebook", "--out", os.devnull]) == 2


# ---------------------------------------------------------------- in the browser

# Visits every slide with every fragment shown and returns what does not fit, per slide.
LAYOUT_CHECK = """async ({minPx}) => {
    Reveal.configure({transition: 'none', backgroundTransition: 'none'});
    await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)));
    const W = window.innerWidth, H = window.innerHeight, problems = [];
    const px = v => Math.round(v);
    const name = el => el.tagName.toLowerCase() + (el.classList.length ? '.' + Array.from(el.classList).slice(0, 2).join('.') : '');
    const snippet = el => (el.textContent || '').trim().split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 60);
    const skip = el => el.closest('aside.notes, .MathJax, .MathJax_Display, .MathJax_Preview, script, style');
    const slidesList = Reveal.getSlides();
    for (let n = 0; n < slidesList.length; n++) {
        const slide = slidesList[n], say = what => problems.push([n + 1, what]);
        const at = Reveal.getIndices(slide), fragments = slide.querySelectorAll('.fragment').length;
        Reveal.slide(at.h, at.v, fragments ? fragments - 1 : undefined);
        if (Reveal.getCurrentSlide() !== slide) { say('reveal did not go to this slide'); continue; }
        slide.scrollTop = 0;
        const box = slide.getBoundingClientRect(), scale = box.width / slide.offsetWidth;
        const inner = {left: box.left + slide.clientLeft * scale, top: box.top + slide.clientTop * scale};
        inner.right = inner.left + slide.clientWidth * scale;
        inner.bottom = inner.top + slide.clientHeight * scale;
        if (box.top < -1 || box.left < -1 || box.bottom > H + 1 || box.right > W + 1) {
            say(`the slide (${px(box.left)},${px(box.top)})-(${px(box.right)},${px(box.bottom)}) leaves the ${W}x${H} window`);
        }
        const scrolls = /auto|scroll/.test(getComputedStyle(slide).overflowY);
        if (slide.scrollHeight > slide.clientHeight + 1 && !scrolls) {
            say(`content ${slide.scrollHeight - slide.clientHeight} px taller than the slide, which does not scroll`);
        }
        const elements = Array.from(slide.querySelectorAll('*')).filter(el => !skip(el));
        // horizontally: nothing sticks out of the slide, no box cuts its content on the right
        const reported = [];
        for (const el of elements) {
            if (reported.some(r => r.contains(el))) continue;
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height) continue;
            const style = getComputedStyle(el);
            if (r.right > inner.right + 1 || r.left < inner.left - 1) {
                say(`${name(el)} sticks out of the slide by ${px(Math.max(r.right - inner.right, inner.left - r.left))} px: "${snippet(el)}"`);
                reported.push(el);
            } else if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
                const what = el.closest('pre, code') ? 'code line cut at the right edge' : `${name(el)} cuts its content at the right edge`;
                say(`${what} (${el.scrollWidth - el.clientWidth} px): "${snippet(el)}"`);
                reported.push(el);
            }
            if (el.tagName === 'PRE' || el.tagName === 'TABLE') {
                const size = parseFloat(style.fontSize) * scale;
                if (size < minPx) say(`${name(el)} at ${size.toFixed(1)} px on screen, too small to read: "${snippet(el)}"`);
            }
        }
        // vertically: scrolled to the end, the last of the content is in the slide
        if (scrolls) {
            slide.scrollTop = slide.scrollHeight;
            const bottom = Math.max(...elements.map(el => el.getBoundingClientRect()).filter(r => r.width && r.height).map(r => r.bottom), -Infinity);
            if (bottom > inner.bottom + 1) say(`scrolled to the end, content still ${px(bottom - inner.bottom)} px below the slide`);
            slide.scrollTop = 0;
        }
        // figures: each can be seen whole, scrolled to, at its own aspect ratio
        let k = 0;
        for (const fig of slide.querySelectorAll('img, svg')) {
            if (skip(fig)) continue;
            k += 1;
            let r = fig.getBoundingClientRect();
            if (!r.width || !r.height) { say(`figure ${k} has no size`); continue; }
            slide.scrollTop += (r.top - inner.top) / scale - 2;
            r = fig.getBoundingClientRect();
            if (r.top < inner.top - 1 || r.bottom > inner.bottom + 1 || r.left < inner.left - 1 || r.right > inner.right + 1) {
                say(`figure ${k} (${px(r.width)}x${px(r.height)} px on screen) cannot be seen whole, even scrolled to`);
            }
            if (fig.naturalWidth && Math.abs((fig.naturalWidth / fig.naturalHeight) / (r.width / r.height) - 1) > 0.02) {
                say(`figure ${k} is distorted: ${fig.naturalWidth}x${fig.naturalHeight} shown as ${px(r.width)}x${px(r.height)}`);
            }
            slide.scrollTop = 0;
        }
    }
    Reveal.slide(0, 0);
    return {problems, total: slidesList.length};
}"""

MIN_SCREEN_PX = 9  # code and tables never shrink below this on screen


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
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_slide_fits_in_chromium(decks, browser, ipynb, kind):
    """The deck renders offline (title, math, figures, slide count, no request outside the build)
    and every slide fits or scrolls, at each viewport."""
    out, built = decks
    deck, nb = built[ipynb.stem, kind], shown(load(ipynb), kind)
    label = f"{ipynb.stem}/{deck.name}"
    page = browser.new_page(viewport={"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})
    requests, failed, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())  # fail fast, still recorded
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    try:
        page.goto(deck.as_uri())
        page.wait_for_selector("html[data-deck-ready=true]", timeout=30_000)
        page.wait_for_selector("html[data-math-ready=true]", timeout=60_000)

        # the title slide shows the notebook's title, inside the window
        heading = page.locator(".reveal .slides section.present h1").first
        assert heading.is_visible(), f"{label}: no visible title on the first slide"
        assert title(nb) in heading.text_content()
        box = heading.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0 and 0 <= box["y"] < VIEWPORTS[0][1]
        shot = SCREENSHOTS / f"{ipynb.stem}{'' if kind == 'full' else '-talk'}.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000

        # as many slides as the cell metadata asks for
        assert page.evaluate("Reveal.getTotalSlides()") == slides.slide_count(nb)

        # math: typeset without errors, every formula rendered
        math = page.evaluate("""() => ({
            sources: document.querySelectorAll('script[type^="math/tex"]').length,
            rendered: document.querySelectorAll('span.MathJax').length,
            errors: document.querySelectorAll('.MathJax_Error, merror').length,
            raw: Array.from(document.querySelectorAll('.reveal .slides .jp-MarkdownOutput'))
                     .filter(e => /\\$\\$/.test(e.textContent)).length,
        })""")
        if has_math(nb):
            assert math["sources"] > 0, f"{label}: the notebook has math but nothing was typeset"
        assert math["rendered"] == math["sources"], math
        assert math["errors"] == 0 and math["raw"] == 0, math

        # figures: every image output is in the deck and decoded
        images = page.evaluate("""() => Array.from(document.querySelectorAll('.reveal .slides img'))
            .map(i => [i.complete, i.naturalWidth, i.naturalHeight])""")
        figures = expected_figures(nb)
        assert figures >= 1, f"{label} has no figure output to show"
        assert len(images) >= figures
        assert all(ok and w > 0 and h > 0 for ok, w, h in images), images

        # every slide, at every viewport
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_function(f"window.innerWidth === {width} && window.innerHeight === {height}")
            result = page.evaluate(LAYOUT_CHECK, {"minPx": MIN_SCREEN_PX})
            assert result["total"] == slides.slide_count(nb)
            for n in sorted({n for n, _ in result["problems"]})[:5]:  # a picture of the first few that fail
                page.evaluate(f"Reveal.slide(...Object.values(Reveal.getIndices(Reveal.getSlides()[{n - 1}])))")
                page.screenshot(path=str(SCREENSHOTS / f"{ipynb.stem}-{kind}-{width}x{height}-slide{n:02d}.png"))
            problems += [f"{label} at {width}x{height}, slide {n}: {what}" for n, what in result["problems"]]
    finally:
        page.close()

    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    root = out.resolve().as_uri() + "/"
    outside = [u for u in requests if not (u.startswith(root) or u.startswith("data:"))]
    assert not outside, f"{label} asked for URLs outside the build folder: {outside}"
    assert not failed, f"{label}: requests failed: {failed}"
    assert not errors, f"{label}: script errors: {errors}"
