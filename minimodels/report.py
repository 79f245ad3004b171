"""What the notebooks reproduced and showed: tables, figures, a results log.

Notebooks call :func:`record` for every number they put next to a paper's number; each is
kept with the profile it ran under and when, in ``runs/notebooks/NB.json`` (scratch, not
committed: the committed results are the experiments' files in ``results/``, see
:mod:`minimodels.experiments`). ``python -m minimodels.report`` prints the collected summary
of one profile (the active one), and ``python -m minimodels.report run`` first executes every
notebook as a plain script (under the active profile) and then prints it. That is what
``make run`` does. Trained models that later notebooks reuse are cached in ``runs/cache``.

Figures. Every notebook shows its figures through one function, bound to the
notebook's name once at the top::

    NB = "02_segformer_decoder_training"
    show = report.figure_saver(NB)   # show(fig, name)
    ...
    show(fig, "learning_curve")

``show(fig, name)`` displays the figure inline in Jupyter (and closes it in a plain
script, where nothing would display it). When the environment variable
``MINIMODELS_FIGURES`` names a folder, it also writes
``<folder>/<notebook>/<name>.png`` and ``<name>.svg`` - stable names, so a presenter
building slides elsewhere finds the same file after every run (``make figures``).
``report.show(fig, name, notebook=NB)`` is the same call without the binding.
Names are lower-case words joined by ``_`` or ``-``; one name per figure of a notebook.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from minimodels import profiles

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNS_DIR = Path(os.environ.get("MINIMODELS_RUNS", REPO_ROOT / "runs"))  # scratch: never committed
NOTEBOOK_RESULTS = RUNS_DIR / "notebooks"  # what each notebook's last run recorded
CACHE_DIR = RUNS_DIR / "cache"  # trained models a later notebook reuses


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(rows, headers) -> str:
    """Render rows (sequences, same length as ``headers``) as an aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"every row needs {len(headers)} cells (headers {list(headers)}), got {row}")
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(rows, headers) -> None:
    print(format_table(rows, headers))


def print_recipe(recipe) -> None:
    """A recipe (a dataclass) as two tables: its own fields, then one column per training stage
    (the fields that are dataclasses themselves, e.g. ``pretrain`` and ``train``)."""
    fields = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe)}
    stages = {k: dataclasses.asdict(v) for k, v in fields.items() if dataclasses.is_dataclass(v)}
    print_table([(k, v if k not in stages else "(stage, below)") for k, v in fields.items()], ["recipe field", "value"])
    if stages:
        names = list(next(iter(stages.values())))
        print_table([(k, *(s[k] for s in stages.values())) for k in names], ["stage field", *stages])


def record(notebook: str, name: str, ours, paper=None, unit: str = "", note: str = "") -> None:
    """Log one reproduced number (and the paper's, if it has one) for the summary, with the
    profile it ran under and the time."""
    NOTEBOOK_RESULTS.mkdir(parents=True, exist_ok=True)
    path = NOTEBOOK_RESULTS / f"{notebook}.json"
    entries = json.loads(path.read_text()) if path.exists() else {}
    entries[name] = {"ours": ours, "paper": paper, "unit": unit, "note": note, "profile": profiles.current(),
                     "time": time.strftime("%Y-%m-%d %H:%M")}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1))
    os.replace(tmp, path)


def summary(profile: str | None = None) -> str:
    """What the notebooks recorded under ``profile`` (default: the active one) - never a mix of
    profiles: numbers recorded under another one are counted and left out."""
    profile = profile or profiles.current()
    files = sorted(NOTEBOOK_RESULTS.glob("*.json"))
    out, other = [f"results recorded under the {profile} profile"], 0
    for path in files:
        entries = json.loads(path.read_text())
        rows = [(k, e["ours"], e["paper"], e["unit"], e["note"], e["time"]) for k, e in entries.items()
                if e.get("profile") == profile]
        other += len(entries) - len(rows)
        if rows:
            out.append(f"\n== {path.stem} ==\n" + format_table(rows, ["result", "ours", "paper", "unit", "note", "when"]))
    if len(out) == 1:
        out.append(f"none in {NOTEBOOK_RESULTS}: run the notebooks first (make run)")
    if other:
        out.append(f"\n({other} numbers recorded under other profiles left out)")
    return "\n".join(out)


def show_source(obj) -> None:
    """Show an object's source: highlighted in Jupyter, plain text in a script."""
    import inspect

    src = inspect.getsource(obj)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(f"```python\n{src}```"))
            return
    except ImportError:
        pass
    print(src)


FIGURES_ENV = "MINIMODELS_FIGURES"
FIGURE_FORMATS = ("png", "svg")
_NAME = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")


def _check_name(kind: str, value) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"figure {kind} must be lower-case letters and digits joined by '_' or '-' "
            f"(a stable file name, e.g. 'learning_curve'), got {value!r}"
        )
    return value


def save_figure(fig, name: str, notebook: str, folder) -> list[Path]:
    """Write ``fig`` as ``<folder>/<notebook>/<name>.png`` and ``.svg``; return the paths.

    The files carry no date or software stamp, so an unchanged figure gives unchanged
    bytes (SVG) and the same name on every run.
    """
    import matplotlib

    _check_name("notebook", notebook)
    _check_name("name", name)
    out = Path(folder) / notebook
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": f"{notebook}/{name}"}):
        for fmt in FIGURE_FORMATS:
            path = out / f"{name}.{fmt}"
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(path, format=fmt, dpi=110, metadata=meta)
            paths.append(path)
    return paths


def show(fig, name: str, notebook: str) -> None:
    """Display ``fig`` inline in Jupyter (close it in a script); save it if ``MINIMODELS_FIGURES`` is set."""
    import matplotlib
    import matplotlib.pyplot as plt

    _check_name("notebook", notebook)
    _check_name("name", name)
    folder = os.environ.get(FIGURES_ENV)
    if folder:
        save_figure(fig, name, notebook, folder)
    if "inline" in matplotlib.get_backend():
        plt.show()
    else:
        plt.close(fig)


def figure_saver(notebook: str) -> Callable[..., None]:
    """``show(fig, name)`` bound to one notebook: the way notebooks show every figure."""
    _check_name("notebook", notebook)

    def show_figure(fig, name: str) -> None:
        show(fig, name, notebook=notebook)

    show_figure.__doc__ = f"Display a figure of {notebook}; save it as PNG and SVG if {FIGURES_ENV} is set."
    return show_figure


def _seed_values(runs: dict, metrics: dict, live: dict | None, paper: dict | None) -> dict:
    """``{metric: [value per seed]}``, after checking the arguments of :func:`seed_spread`."""
    if not isinstance(runs, dict) or not runs or not all(isinstance(r, dict) for r in runs.values()):
        raise ValueError(f"runs must map each seed to its {{metric: value}} (an arm's 'runs' in results/NAME.json), "
                         f"got {runs!r}")
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(f"metrics must map each metric to its label, got {metrics!r}")
    for name, extra in (("live", live), ("paper", paper)):
        unknown = sorted(set(extra or {}) - set(metrics))
        if unknown:
            raise ValueError(f"{name} names metrics that are not drawn: {unknown}; drawn: {list(metrics)}")
    missing = sorted({m for r in runs.values() for m in metrics if m not in r})
    if missing:
        raise ValueError(f"metrics {missing} are not in every run; the runs hold {sorted(next(iter(runs.values())))}")
    return {m: [float(r[m]) for r in runs.values()] for m in metrics}


def seed_spread(runs: dict, metrics: dict, live: dict | None = None, paper: dict | None = None, ax=None,
                title: str = "", ylabel: str = "", legend: bool = True):
    """The seeds of one arm of a recorded experiment, one column per metric: each seed a dot, the mean
    a bar, this notebook's own run a star (``live``) and the paper's figure a cross (``paper``).

    ``runs``: seed -> {metric: value}, an arm's ``runs`` in ``results/NAME.json``; ``metrics``:
    metric -> column label, in the order drawn; ``live`` and ``paper``: metric -> value, in the
    runs' units, for any of the metrics. Draws into ``ax`` (default: a new figure), with a legend
    unless ``legend`` is false, and returns the Figure."""
    import matplotlib.pyplot as plt

    values = _seed_values(runs, metrics, live, paper)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(metrics) + 2.5), 3.6), constrained_layout=True)
    marks = {"seeds": False, "live": False, "paper": False}
    for i, (metric, seeds) in enumerate(values.items()):
        ax.bar(i, sum(seeds) / len(seeds), 0.6, color="#c6dbef", label=None if i else "mean over seeds")
        ax.plot([i - 0.12] * len(seeds), seeds, "o", color="#08519c", ms=5,
                label=None if marks["seeds"] else f"each seed ({len(seeds)})")
        marks["seeds"] = True
        if live and metric in live:
            ax.plot(i + 0.12, live[metric], "*", color="#d94801", ms=12, label=None if marks["live"] else "this notebook's run")
            marks["live"] = True
        if paper and metric in paper:
            ax.plot(i, paper[metric], "x", color="#cb181d", ms=9, mew=2, label=None if marks["paper"] else "the paper's")
            marks["paper"] = True
    ax.set_xticks(range(len(metrics)), list(metrics.values()))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    return ax.figure


def seed_rows(runs: dict, metrics: dict, live: dict | None = None, digits: int = 3) -> list[tuple]:
    """Rows for :func:`print_table` under the headers ``SEED_HEADERS``: per metric its label, the
    number of seeds, their mean, lowest and highest value and this notebook's run (``live``; None
    when it has none), written with ``digits`` decimals."""
    values = _seed_values(runs, metrics, live, None)

    def text(v):
        return f"{float(v):.{digits}f}"

    return [(label, len(values[m]), text(sum(values[m]) / len(values[m])), text(min(values[m])), text(max(values[m])),
             text(live[m]) if live and m in live else None) for m, label in metrics.items()]


SEED_HEADERS = ["metric", "seeds", "mean", "lowest", "highest", "this run"]


def arm_bars(data: dict, arms, metrics: dict, names=None, ax=None, title: str = "", ylabel: str = "",
             legend: bool = True):
    """Several arms of a recorded experiment side by side: one group per arm, one bar per metric
    (the mean of the seeds) with each seed a dot on it. ``metrics``: metric -> label, in the order
    drawn in each group; ``names``: how to write each arm under its group. Draws into ``ax``
    (default: a new figure) and returns the Figure."""
    import matplotlib.pyplot as plt

    arms = list(arms)
    names = list(names or arms)
    if len(names) != len(arms):
        raise ValueError(f"names must name each of the {len(arms)} arms, got {names}")
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(f"metrics must map each metric to its label, got {metrics!r}")
    values = [{m: arm_values(data, arm, m) for m in metrics} for arm in arms]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(arms) * len(metrics) ** 0.5 + 2), 3.8),
                             constrained_layout=True)
    width = 0.8 / len(metrics)
    for j, (metric, label) in enumerate(metrics.items()):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(arms))]
        means = [sum(v[metric]) / len(v[metric]) for v in values]
        ax.bar(xs, means, width * 0.9, color=f"C{j % 10}", alpha=0.45, label=label)
        for x, v in zip(xs, values):
            ax.plot([x] * len(v[metric]), v[metric], "o", color=f"C{j % 10}", ms=4)
    ax.set_xticks(range(len(arms)), names, fontsize=8)
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    if legend:
        ax.legend(fontsize=8)
    return ax.figure


def pretraining_curve(history, title: str, metric: str = "acc", label: str = "held-out accuracy"):
    """One pretraining stage on a small figure: its training loss (a running mean over about a
    fortieth of its steps) and its held-out ``metric`` at each evaluation. ``history``: the stage's
    :class:`~minimodels.train.History`. Returns the Figure."""
    import matplotlib.pyplot as plt

    if not len(history.loss):
        raise ValueError(f"pretraining_curve needs a history with training steps, got {len(history.loss)} losses")
    fig, ax = plt.subplots(figsize=(7, 2.3), constrained_layout=True)
    k = max(1, len(history.loss) // 40)
    running = [sum(history.loss[i - k + 1:i + 1]) / k for i in range(k - 1, len(history.loss))]
    ax.plot(history.step[k - 1:], running, color="C2", label=f"training loss (mean of {k} steps)")
    ax.plot([e["step"] for e in history.evals], [float(e[metric]) for e in history.evals], "o", color="C3",
            label=label)
    ax.set(xlabel="step", title=title)
    ax.legend(fontsize=8)
    return fig


def arm_values(data: dict, arm: str, metric: str, at_step: int | None = None) -> list[float]:
    """Each seed's ``metric`` for ``arm`` of a results file (``results/NAME.json``, as loaded by
    ``minimodels.experiments.load``), in the file's seed order. ``at_step``: the held-out
    accuracy at that training step instead (from the runs' ``trajectory_step`` /
    ``trajectory_acc``; ``metric`` must then be "acc")."""
    if arm not in data["arms"]:
        raise ValueError(f"{data['name']} has no arm {arm!r}; its arms: {list(data['arms'])}")
    runs = data["arms"][arm]["runs"]
    if at_step is not None:
        if metric != "acc":
            raise ValueError(f"at_step reads the accuracy trajectory; metric must be 'acc', got {metric!r}")
        out = []
        for seed, run in runs.items():
            steps = run.get("trajectory_step", [])
            if at_step not in steps:
                raise ValueError(f"{data['name']} / {arm} / seed {seed}: no evaluation at step {at_step}; "
                                 f"evaluated at {steps}")
            out.append(float(run["trajectory_acc"][steps.index(at_step)]))
        return out
    missing = [seed for seed, run in runs.items() if metric not in run]
    if missing:
        raise ValueError(f"{data['name']} / {arm}: no {metric!r} in seeds {missing}; "
                         f"the runs hold {sorted(next(iter(runs.values())))}")
    return [float(run[metric]) for run in runs.values()]


def order_verdict(data: dict, arms, metric: str = "acc", names=None, at_step: int | None = None) -> dict:
    """Does a recorded experiment rank ``arms`` in the paper's order (``arms`` best first, by a
    higher ``metric``)? Returns ``means`` (per arm, in that order), ``in_order`` (the means fall
    strictly, arm after arm), ``apart`` (neighbouring pairs ``"a > b"`` where every seed of a is
    above every seed of b: the steps of the paper's order the seeds agree on), ``reversed``
    (neighbouring pairs where every seed says the opposite, written ``"b > a"``) and
    ``sentence``, one line that says it with the numbers. ``names``: how to write each arm (default: its name in the file);
    ``at_step``: rank the accuracy at that training step (:func:`arm_values`)."""
    arms = list(arms)
    if len(arms) < 2:
        raise ValueError(f"order_verdict needs at least two arms, got {arms}")
    names = list(names or arms)
    if len(names) != len(arms):
        raise ValueError(f"names must name each of the {len(arms)} arms, got {names}")
    values = [arm_values(data, arm, metric, at_step) for arm in arms]
    means = [sum(v) / len(v) for v in values]
    in_order = all(a > b for a, b in zip(means, means[1:]))
    apart = [f"{names[i]} > {names[i + 1]}" for i in range(len(arms) - 1) if min(values[i]) > max(values[i + 1])]
    reversed_ = [f"{names[i + 1]} > {names[i]}" for i in range(len(arms) - 1) if min(values[i + 1]) > max(values[i])]
    order = sorted(zip(means, names), key=lambda p: -p[0])
    ranked = order[0][1] + "".join(f" {'=' if abs(m - prev) < 1e-12 else '>'} {name}"
                                   for (prev, _), (m, name) in zip(order, order[1:]))
    paper = " > ".join(names)
    numbers = ", ".join(f"{name} {m:.3f}" for name, m in zip(names, means))
    seeds = f"{len(values[0])} seed{'s' if len(values[0]) > 1 else ''}"
    when = f" at step {at_step}" if at_step is not None else ""
    if in_order:
        sentence = f"The paper's order {paper} reproduces{when} in the mean of {seeds} ({numbers})"
    else:
        sentence = (f"The paper's order {paper} does not reproduce{when}: the mean of {seeds} ranks {ranked} "
                    f"({numbers})")
    sentence += f"; every seed agrees on {', '.join(apart) if apart else 'no step'} of the paper's order"
    sentence += f", and on {', '.join(reversed_)} against it." if reversed_ else "."
    return {"means": means, "in_order": in_order, "apart": apart, "reversed": reversed_, "sentence": sentence}


def gain(data: dict, arm: str, over: str, metric: str = "acc", name: str | None = None, over_name: str | None = None,
         unit: str | None = None, digits: int = 3) -> dict:
    """What ``arm`` adds over ``over`` in a recorded experiment, seed by seed (the runs of one seed
    share their data and initialisation, so the difference is paired). Returns ``per_seed`` (the
    differences in the file's seed order), ``mean``, ``sign`` (+1 when every seed gains, -1 when
    every seed loses, 0 when they disagree) and ``sentence``, one line with the numbers (``name``,
    ``over_name``: how to call the two arms; ``unit``: what the numbers are, default ``metric``;
    ``digits``: decimals)."""
    a, b = data["arms"].get(arm, {}).get("runs"), data["arms"].get(over, {}).get("runs")
    if a is None or b is None:
        raise ValueError(f"{data['name']} has no arm {arm if a is None else over!r}; its arms: {list(data['arms'])}")
    if list(a) != list(b):
        raise ValueError(f"{data['name']}: {arm!r} and {over!r} ran different seeds ({list(a)} vs {list(b)}); "
                         "a paired gain needs the same ones")
    diffs = [x - y for x, y in zip(arm_values(data, arm, metric), arm_values(data, over, metric))]
    mean = sum(diffs) / len(diffs)
    sign = 1 if all(d > 0 for d in diffs) else -1 if all(d < 0 for d in diffs) else 0
    agree = {1: "every seed gains", -1: "every seed loses",
             0: "no seed changes" if not any(diffs) else "the seeds disagree"}[sign]
    seeds = ", ".join(f"{d:+.{digits}f}" for d in diffs)
    sentence = f"{name or arm}: {mean:+.{digits}f} {unit or metric} over {over_name or over} (seeds {seeds}; {agree})"
    return {"per_seed": diffs, "mean": mean, "sign": sign, "sentence": sentence}


def study_plot(data: dict, arms, names=None, metric: str = "acc", cost: str | None = "mmacs", axes=None,
               live: dict | None = None, title: str = ""):
    """A recorded study (``results/NAME.json`` with per-seed ``trajectory_step`` /
    ``trajectory_acc``) on two panels: left, ``metric`` of each arm - every seed a small dot, the
    mean a large one - against its ``cost`` (a metric such as "mmacs"; None: the arms side by side);
    right, the mean of the seeds along training. ``names``: how to write each arm; ``live``: arm ->
    this notebook's own value, drawn as a star. Returns the Figure."""
    import matplotlib.pyplot as plt

    arms = list(arms)
    names = list(names or arms)
    if len(names) != len(arms):
        raise ValueError(f"names must name each of the {len(arms)} arms, got {names}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    for i, (arm, name) in enumerate(zip(arms, names)):
        values = arm_values(data, arm, metric)
        x = sum(arm_values(data, arm, cost)) / len(values) if cost else i
        color = f"C{i % 10}"
        axes[0].plot([x] * len(values), values, ".", color=color, alpha=0.6, ms=7)
        axes[0].plot(x, sum(values) / len(values), "o", color=color, ms=10, label=name)
        axes[0].annotate(name, (x, sum(values) / len(values)), textcoords="offset points", xytext=(7, 5),
                         fontsize=8, color=color)
        if live and arm in live:
            axes[0].plot(x, live[arm], "*", color=color, ms=14, mec="k", mew=0.6)
        runs = list(data["arms"][arm]["runs"].values())
        steps = runs[0]["trajectory_step"]
        mean = [sum(r["trajectory_acc"][k] for r in runs) / len(runs) for k in range(len(steps))]
        axes[1].plot(steps, mean, "o-", color=color, ms=4, label=name)
    n = len(next(iter(data["arms"].values()))["runs"])
    seeds = f"{n} seed{'s' if n != 1 else ''}"
    axes[0].set(xlabel={"mmacs": "MMACs per clip"}.get(cost, cost) if cost else "", ylabel="held-out top-1",
                title=title or f"small dots: the {seeds}, each; large: their mean" + ("; star: this run" if live else ""))
    if not cost:
        axes[0].set_xticks(range(len(arms)), names, fontsize=8)
        axes[0].set_xlim(-0.5, len(arms) - 0.5)
    axes[1].set(xlabel="training step", ylabel="held-out top-1 (mean of seeds)", title="along training")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    return axes[0].figure


_SHOW_CALL = re.compile(r"""\bshow\(\s*[^,()]+,\s*["']([a-z0-9_-]+)["']""")


def export_figures(folder, pattern: str = "[0-9]*.ipynb") -> list[Path]:
    """Write every figure of the committed notebooks' outputs as ``<folder>/<notebook>/<name>.png``,
    in seconds, without running anything. A figure's name is the one its cell gives
    ``show(fig, "name")``; a figure whose cell names none (or fewer than it shows) is
    ``cellNN-K``. Returns the paths written."""
    import base64

    paths = []
    for nb_path in sorted((REPO_ROOT / "notebooks").glob(pattern)):
        nb = json.loads(nb_path.read_text())
        out = Path(folder) / nb_path.stem
        for index, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            names = _SHOW_CALL.findall("".join(cell["source"]))
            images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            for k, data in enumerate(images):
                name = names[k] if k < len(names) else f"cell{index:02d}-{k}"
                out.mkdir(parents=True, exist_ok=True)
                path = out / f"{name}.png"
                path.write_bytes(base64.b64decode("".join(data) if isinstance(data, list) else data))
                paths.append(path)
    return paths


def run_notebooks(pattern: str = "[0-9]*.py") -> int:
    """Execute every notebook source as a script, then print the summary. Returns an exit code."""
    env = dict(os.environ, MPLBACKEND="Agg")
    failed = []
    scripts = sorted((REPO_ROOT / "notebooks").glob(pattern))
    if not scripts:
        print(f"no notebook in {REPO_ROOT / 'notebooks'} matches {pattern!r}")
        return 1
    for script in scripts:
        t0 = time.perf_counter()
        # the summary is this run's: rows an earlier run left (another profile, other sizes) go first
        (NOTEBOOK_RESULTS / f"{script.stem}.json").unlink(missing_ok=True)
        print(f"--> {script.name}", flush=True)
        rc = subprocess.call([sys.executable, str(script)], cwd=script.parent, env=env)
        print(f"<-- {script.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {time.perf_counter() - t0:.0f}s", flush=True)
        if rc:
            failed.append(script.name)
    print(summary())
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["run"] and len(args) <= 2:
        sys.exit(run_notebooks(*args[1:]))
    if args[:1] == ["figures"] and 2 <= len(args) <= 3:
        written = export_figures(args[1], *args[2:])
        print(f"{len(written)} figures from the committed notebooks' outputs under {args[1]}")
        sys.exit(0 if written else 1)
    if args:
        sys.exit(f"usage: python -m minimodels.report [run [PATTERN] | figures FOLDER [PATTERN]]  (got {' '.join(args)})")
    print(summary())
