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


RUNS = {"0": {"acc": 0.9, "dir": 0.8}, "1": {"acc": 0.7, "dir": 0.6}, "2": {"acc": 0.8, "dir": 0.7}}


def test_seed_spread_draws_every_seed_the_mean_the_live_run_and_the_paper():
    fig = report.seed_spread(RUNS, {"acc": "top-1", "dir": "direction"}, live={"acc": 0.95}, paper={"dir": 0.5})
    ax = fig.axes[0]
    assert [round(p.get_height(), 6) for p in ax.patches] == [0.8, 0.7]  # the means
    lines = {line.get_label(): line for line in ax.lines}
    seeds = [list(line.get_ydata()) for line in ax.lines if line.get_marker() == "o"]
    assert seeds == [[0.9, 0.7, 0.8], [0.8, 0.6, 0.7]]
    assert list(lines["this notebook's run"].get_ydata()) == [0.95]
    assert list(lines["the paper's"].get_ydata()) == [0.5] and lines["the paper's"].get_xdata()[0] == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["top-1", "direction"]
    assert ax.get_legend() is not None
    plt.close(fig)
    assert report.seed_spread(RUNS, {"acc": "top-1"}, legend=False).axes[0].get_legend() is None
    plt.close("all")


def test_seed_rows_give_the_range_over_seeds():
    rows = report.seed_rows(RUNS, {"acc": "top-1", "dir": "direction"}, live={"acc": 0.9123})
    assert rows == [("top-1", 3, "0.800", "0.700", "0.900", "0.912"), ("direction", 3, "0.700", "0.600", "0.800", None)]
    assert report.seed_rows(RUNS, {"acc": "top-1"}, digits=1)[0][2:5] == ("0.8", "0.7", "0.9")
    assert len(report.SEED_HEADERS) == len(rows[0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(runs={}, metrics={"acc": "top-1"}), "map each seed"),
    (dict(runs=RUNS, metrics={}), "map each metric"),
    (dict(runs=RUNS, metrics={"miou": "mIoU"}), r"\['miou'\] are not in every run"),
    (dict(runs=RUNS, metrics={"acc": "top-1"}, live={"dir": 0.5}), r"live names metrics that are not drawn: \['dir'\]"),
])
def test_seed_spread_refuses_what_it_cannot_draw(kwargs, match):
    with pytest.raises(ValueError, match=match):
        report.seed_spread(**kwargs)
    plt.close("all")


def _results(**arms):
    return {"name": "demo", "arms": {arm: {"runs": {str(i): {"acc": v} for i, v in enumerate(values)}}
                                     for arm, values in arms.items()}}


def test_order_verdict_says_whether_the_papers_order_holds_and_where_the_seeds_agree():
    data = _results(a=[0.9, 0.8, 0.85], b=[0.7, 0.82, 0.75], c=[0.2, 0.3, 0.1])
    v = report.order_verdict(data, ["a", "b", "c"], names=["A", "B", "C"])
    assert v["in_order"] and v["means"] == pytest.approx([0.85, 0.7567, 0.2], abs=1e-4) and v["apart"] == ["B > C"]
    assert v["sentence"].startswith("The paper's order A > B > C reproduces in the mean of 3 seeds (A 0.850")
    assert v["sentence"].endswith("every seed agrees on B > C of the paper's order.") and v["reversed"] == []
    w = report.order_verdict(data, ["c", "a", "b"])
    assert not w["in_order"] and w["apart"] == [] and "ranks a > b > c" in w["sentence"]
    assert w["reversed"] == ["a > c"]  # every seed puts a above c: the opposite of the order asked about
    assert w["sentence"].endswith("every seed agrees on no step of the paper's order, and on a > c against it.")
    with pytest.raises(ValueError, match="demo has no arm 'd'; its arms: \\['a', 'b', 'c'\\]"):
        report.order_verdict(data, ["a", "d"])
    with pytest.raises(ValueError, match="no 'top5' in seeds"):
        report.order_verdict(data, ["a", "b"], metric="top5")
    with pytest.raises(ValueError, match="at least two arms"):
        report.order_verdict(data, ["a"])


def test_gain_is_paired_by_seed_and_says_whether_every_seed_agrees():
    data = _results(reg=[0.6, 0.5, 0.7], none=[0.5, 0.45, 0.71], more=[0.9, 0.8, 0.95])
    g = report.gain(data, "more", "none")
    assert g["per_seed"] == pytest.approx([0.4, 0.35, 0.24]) and g["mean"] == pytest.approx(0.33) and g["sign"] == 1
    assert g["sentence"] == "more: +0.330 acc over none (seeds +0.400, +0.350, +0.240; every seed gains)"
    h = report.gain(data, "reg", "none", name="all regularisers", digits=2)
    assert h["sign"] == 0 and h["sentence"].startswith("all regularisers: +0.05 acc over none (seeds +0.10, +0.05, -0.01;")
    assert report.gain(data, "none", "more")["sign"] == -1
    assert report.gain(data, "none", "none")["sentence"].endswith("no seed changes)")
    assert report.gain(data, "more", "none", over_name="no change", unit="points")["sentence"].startswith(
        "more: +0.330 points over no change (")
    with pytest.raises(ValueError, match="demo has no arm 'x'"):
        report.gain(data, "x", "none")
    data["arms"]["one"] = {"runs": {"0": {"acc": 0.5}}}
    with pytest.raises(ValueError, match="ran different seeds"):
        report.gain(data, "one", "none")


def test_order_verdict_writes_ties_and_one_seed():
    v = report.order_verdict(_results(a=[0.5], b=[0.5], c=[0.7]), ["a", "b", "c"])
    assert "the mean of 1 seed ranks c > a = b" in v["sentence"] and not v["in_order"]


def test_order_verdict_at_a_training_step_reads_the_trajectory():
    data = _results(a=[0.9, 0.8], b=[0.95, 0.85])
    for arm, early in (("a", [0.6, 0.5]), ("b", [0.3, 0.2])):
        for run, acc in zip(data["arms"][arm]["runs"].values(), early):
            run.update(trajectory_step=[200, 1000], trajectory_acc=[acc, run["acc"]])
    assert not report.order_verdict(data, ["a", "b"])["in_order"]
    v = report.order_verdict(data, ["a", "b"], at_step=200)
    assert v["in_order"] and v["apart"] == ["a > b"] and "reproduces at step 200 in the mean of 2 seeds" in v["sentence"]
    with pytest.raises(ValueError, match=r"no evaluation at step 300; evaluated at \[200, 1000\]"):
        report.order_verdict(data, ["a", "b"], at_step=300)
    with pytest.raises(ValueError, match="metric must be 'acc'"):
        report.arm_values(data, "a", "top5", at_step=200)


def test_arm_bars_draw_a_bar_per_arm_and_metric_with_every_seed():
    data = _results(a=[0.9, 0.8, 0.85], b=[0.7, 0.82, 0.75])
    for run, top5 in zip(data["arms"]["a"]["runs"].values(), (0.95, 0.97, 0.99)):
        run["top5"] = top5
    for run in data["arms"]["b"]["runs"].values():
        run["top5"] = 0.9
    fig = report.arm_bars(data, ["a", "b"], {"acc": "top-1", "top5": "top-5"}, names=["A", "B"])
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == pytest.approx([0.7567, 0.85, 0.9, 0.97], abs=1e-4)  # the means: 2 arms x 2 metrics
    assert sum(len(line.get_ydata()) for line in ax.lines) == 12  # every seed of every bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"]
    with pytest.raises(ValueError, match="no 'f1' in seeds"):
        report.arm_bars(data, ["a"], {"f1": "F1"})
    with pytest.raises(ValueError, match="names must name each"):
        report.arm_bars(data, ["a", "b"], {"acc": "top-1"}, names=["A"])
    plt.close("all")


def test_study_plot_draws_each_arm_and_refuses_unnamed_arms():
    data = _results(a=[0.9, 0.8], b=[0.95, 0.85])
    for arm in data["arms"].values():
        for run in arm["runs"].values():
            run.update(mmacs=10.0, trajectory_step=[200, 1000], trajectory_acc=[0.5, run["acc"]])
    fig = report.study_plot(data, ["a", "b"], names=["A", "B"], live={"a": 0.7})
    left, right = fig.axes
    assert len(left.lines) == 5 and len(right.lines) == 2  # 2 x (seeds, mean) + the live star; a curve per arm
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["A", "B"]
    with pytest.raises(ValueError, match="names must name each of the 2 arms"):
        report.study_plot(data, ["a", "b"], names=["A"])
    plt.close("all")


def test_pretraining_curve_draws_the_running_loss_and_every_evaluation():
    from minimodels.train import History

    h = History()
    h.step, h.loss = list(range(80)), [2.0 - i / 80 for i in range(80)]
    h.evals = [{"step": 40, "acc": 0.3}, {"step": 79, "acc": 0.5}]
    fig = report.pretraining_curve(h, "pretraining")
    loss, evals = fig.axes[0].lines
    assert len(loss.get_xdata()) == 80 - 2 + 1  # a running mean of 2 steps (a fortieth of 80)
    assert list(evals.get_ydata()) == [0.3, 0.5] and fig.axes[0].get_title() == "pretraining"
    plt.close(fig)
    with pytest.raises(ValueError, match="needs a history with training steps, got 0 losses"):
        report.pretraining_curve(History(), "empty")
