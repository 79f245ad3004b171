"""minimodels.report: figures shown and saved with stable names, the results log."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from minimodels import report


def _figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [0, 1, 4])
    ax.set_title("curve")
    return fig


def test_show_saves_png_and_svg_under_the_notebook_name(tmp_path, monkeypatch):
    monkeypatch.setenv(report.FIGURES_ENV, str(tmp_path))
    show = report.figure_saver("09_demo")
    fig = _figure()
    show(fig, "learning_curve")
    png, svg = tmp_path / "09_demo" / "learning_curve.png", tmp_path / "09_demo" / "learning_curve.svg"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in svg.read_bytes()
    assert not plt.fignum_exists(fig.number), "outside Jupyter show() closes the figure"
    assert sorted(p.name for p in (tmp_path / "09_demo").iterdir()) == ["learning_curve.png", "learning_curve.svg"]


def test_saved_svg_is_byte_stable(tmp_path):
    """Same figure, same bytes: no date stamp, no random element ids."""
    a = report.save_figure(_figure(), "curve", "09_demo", tmp_path / "a")
    b = report.save_figure(_figure(), "curve", "09_demo", tmp_path / "b")
    assert [p.name for p in a] == ["curve.png", "curve.svg"]
    assert a[1].read_bytes() == b[1].read_bytes()
    assert b"<dc:date>" not in a[1].read_bytes()
    plt.close("all")


def test_show_writes_nothing_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(report.FIGURES_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    report.show(_figure(), "curve", notebook="09_demo")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["Learning Curve", "a/b", "", "../x", "curve.png", 3])
def test_unstable_or_unsafe_names_are_refused(name, tmp_path, monkeypatch):
    monkeypatch.setenv(report.FIGURES_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="lower-case"):
        report.show(_figure(), name, notebook="09_demo")
    plt.close("all")
    with pytest.raises(ValueError, match="got 'Bad NB'"):
        report.figure_saver("Bad NB")


def test_run_notebooks_summarises_this_run_only(tmp_path, monkeypatch, capsys):
    """Rows an earlier run of a notebook left (another profile, other sizes) do not reach the
    summary; results of notebooks this run did not execute stay."""
    import json

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.py").write_text(
        "from minimodels.report import record\nrecord('01_a', 'fresh', 1.5, 2.0)\n")
    results = tmp_path / "runs" / "notebooks"
    results.mkdir(parents=True)
    old = {"ours": 9, "paper": None, "unit": "", "note": "", "profile": "smoke", "time": "2026-01-01 00:00"}
    (results / "01_a.json").write_text(json.dumps({"stale": old}))
    (results / "02_b.json").write_text(json.dumps({"other": {**old, "ours": 7}}))
    monkeypatch.setenv("MINIMODELS_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MINIMODELS_PROFILE", "smoke")
    monkeypatch.setattr(report, "NOTEBOOK_RESULTS", results)
    monkeypatch.setattr(report, "REPO_ROOT", tmp_path)
    assert report.run_notebooks("01_*.py") == 0
    out = capsys.readouterr().out
    assert "fresh" in out and "stale" not in out and "other" in out
    fresh = json.loads((results / "01_a.json").read_text())["fresh"]
    assert fresh["ours"] == 1.5 and fresh["paper"] == 2.0 and fresh["profile"] == "smoke"
