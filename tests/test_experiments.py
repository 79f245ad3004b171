"""Named experiments and their results files: every committed file is complete, has every field,
was run with the recipe the code runs today, and docs/RESULTS.md is what the files say."""

import json
from pathlib import Path

import pytest

from minimodels import experiments
from minimodels.experiments import (
    EXPERIMENTS, FIELDS, load, readme_table, results_markdown, run_experiment, stale_arms, with_readme_table,
)

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "results").glob("*.json"))

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_results_are_complete_and_current(path):
    data = load(path.stem, path.parent)  # every field, valid JSON
    assert data["name"] == path.stem and data["complete"], f"{path.name} is a partial run"
    assert all(len(arm["runs"]) == len(data["seeds"]) for arm in data["arms"].values())
    stale = stale_arms(data)
    assert not stale, (f"{path.name} is stale: the code no longer runs the recorded recipe of {stale}; "
                       f"re-run `{data['command']}` and `make docs`")
    assert (REPO / "docs" / "figures" / f"{path.stem}.png").exists(), "its figure is missing: run `make docs`"


def test_results_doc_and_readme_table_are_generated_from_the_results():
    doc = REPO / "docs" / "RESULTS.md"
    assert doc.read_text() == results_markdown(), "docs/RESULTS.md is out of date: run `make docs`"
    readme = (REPO / "README.md").read_text()
    assert readme == with_readme_table(readme), "README.md's results table is out of date: run `make docs`"


def test_readme_is_short():
    lines = (REPO / "README.md").read_text().count("\n")
    assert lines <= 180, f"README.md has {lines} lines; at most 180 (details belong in docs/)"


def test_readme_table_says_what_has_not_run(tmp_path):
    table = readme_table(tmp_path)
    assert "not run yet: `make experiments NAME=vivit_main`" in table
    with pytest.raises(ValueError, match="needs one <!-- results:start --> line"):
        with_readme_table("no markers here")


def test_a_run_writes_every_field_and_a_killed_run_says_it_is_partial(tmp_path, monkeypatch):
    data = run_experiment("vivit_main", "smoke", [0], tmp_path, log=None)
    assert set(FIELDS) <= set(data) and data["complete"] and data["command"].endswith("--profile smoke --seeds 0")
    assert json.loads((tmp_path / "vivit_main.json").read_text()) == json.loads(json.dumps(data))
    assert not stale_arms(load("vivit_main", tmp_path))
    assert data["machine"]["threads"] == 1 and data["torch"]

    exp = EXPERIMENTS["vivit_main"]
    calls = []

    def dies_on_the_second(recipe):
        calls.append(recipe.seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return {"acc": 0.5, "direction_acc": 0.5, "train_time_s": 1.0}

    monkeypatch.setattr(exp.arms[0], "run", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        run_experiment("vivit_main", "smoke", [3, 4], tmp_path, log=None)
    partial = load("vivit_main", tmp_path)
    assert not partial["complete"] and list(partial["arms"][exp.arms[0].name]["runs"]) == ["3"]
    assert "partial" in results_markdown(tmp_path)
    assert experiments.draw(partial, tmp_path / "fig.png").stat().st_size > 1000


def test_a_changed_recipe_makes_the_file_stale(tmp_path):
    run_experiment("vivit_main", "smoke", [0], tmp_path, log=None)
    data = load("vivit_main", tmp_path)
    arm = next(iter(data["arms"]))
    data["arms"][arm]["recipe"]["train"]["lr"] *= 2
    assert stale_arms(data) == [arm]


def test_bad_requests_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        run_experiment("nope", "smoke", [0], tmp_path)
    with pytest.raises(ValueError, match="seeds must be non-negative integers"):
        run_experiment("vivit_main", "smoke", [-1], tmp_path)
    with pytest.raises(SystemExit):
        experiments.main(["vivit_main", "--profile", "tpu"])
    assert "unknown profile 'tpu'" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        load("broken", tmp_path)
    (tmp_path / "thin.json").write_text("{}")
    with pytest.raises(ValueError, match=r"thin.json lacks the field\(s\) \['name'"):
        load("thin", tmp_path)
