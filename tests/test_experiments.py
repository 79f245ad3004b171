"""Named experiments and their results files: every committed file is complete, has every field,
was run with the recipe the code runs today, and docs/RESULTS.md is what the files say."""

import json
from pathlib import Path

import pytest

from minimodels import experiments
from minimodels.recipes import vivit as vv
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
    figures = {p.stem for p in (REPO / "docs" / "figures").glob("*.png")}
    assert figures == {p.stem for p in COMMITTED}, "docs/figures/ holds a figure of no results file: run `make docs`"


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


def test_a_field_added_later_counts_only_off_its_default(tmp_path):
    run_experiment("vivit_main", "smoke", [0], tmp_path, log=None)
    data = load("vivit_main", tmp_path)
    arm = next(iter(data["arms"]))
    recorded = data["arms"][arm]["recipe"]
    assert recorded.pop("task") == "motion"  # as if recorded before ViViTRecipe had `task`
    assert stale_arms(data) == []  # the code's default is what ran
    recorded["data_seed"] += 1  # a field the file does record still counts
    assert stale_arms(data) == [arm]
    recorded["data_seed"] -= 1
    exp = experiments.EXPERIMENTS["vivit_main"]
    original = exp.arms[0].recipe
    exp.arms[0].recipe = lambda profile: vv.vivit_recipe(profile, task="flipbook", flip=False)
    try:  # the added field off its default: not what ran
        assert stale_arms(data) == [arm]
    finally:
        exp.arms[0].recipe = original


def test_bad_requests_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        run_experiment("nope", "smoke", [0], tmp_path)
    with pytest.raises(ValueError, match="seeds must be distinct non-negative integers"):
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


def test_seeds_run_side_by_side_merge_into_one_file(tmp_path):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    run_experiment("vivit_main", "smoke", [0], a, log=None)
    run_experiment("vivit_main", "smoke", [2, 1], b, log=None)
    data = experiments.merge("vivit_main", [a, b], out)
    assert data == load("vivit_main", out) and data["complete"] and data["seeds"] == [0, 1, 2]
    assert data["command"].endswith("--profile smoke --seeds 0 1 2") and not stale_arms(data)
    assert [p["seeds"] for p in data["parts"]] == [["0"], ["1", "2"]]
    assert data["wall_time_s"] == pytest.approx(sum(p["wall_time_s"] for p in data["parts"]))
    arm = next(iter(data["arms"]))
    assert data["arms"][arm]["runs"]["1"] == load("vivit_main", b)["arms"][arm]["runs"]["1"]
    assert "in processes side by side" in results_markdown(out)
    with pytest.raises(ValueError, match="seed 0 is in more than one part"):
        experiments.merge("vivit_main", [a, a], out)
    changed = load("vivit_main", b)
    changed["arms"][arm]["recipe"]["train"]["lr"] *= 2
    (b / "vivit_main.json").write_text(json.dumps(changed))
    with pytest.raises(ValueError, match="the parts ran different recipes"):
        experiments.merge("vivit_main", [a, b], out)


def test_jobs_run_each_seed_in_its_own_process_and_merge(tmp_path, monkeypatch):
    lines = []
    data = experiments.run_parallel("segformer_main", "smoke", [1, 0], tmp_path, jobs=2, log=lines.append)
    assert data == load("segformer_main", tmp_path) and data["seeds"] == [0, 1] and data["complete"]
    assert [p["seeds"] for p in data["parts"]] == [["0"], ["1"]] and not stale_arms(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segformer_main.json"]  # the parts are cleaned up
    assert sum("started" in line for line in lines) == 2
    # the same seed alone in one process gives the same numbers
    alone = run_experiment("segformer_main", "smoke", [1], tmp_path / "alone", log=None)
    arm = next(iter(data["arms"]))
    assert alone["arms"][arm]["runs"]["1"]["miou"] == pytest.approx(data["arms"][arm]["runs"]["1"]["miou"], abs=1e-6)
    with pytest.raises(ValueError, match="seeds must be distinct non-negative integers, got \\[0, 0\\]"):
        experiments.run_parallel("segformer_main", "smoke", [0, 0], tmp_path / "x")
    monkeypatch.setattr(experiments.sys, "executable", "/bin/false")  # every part fails at once
    with pytest.raises(RuntimeError, match="segformer_main: seed 0 failed \\(exit 1\\); see .*seed0/log"):
        experiments.run_parallel("segformer_main", "smoke", [0, 1], tmp_path / "failing", jobs=1, log=None)
    assert not (tmp_path / "failing" / "segformer_main.json").exists()


def test_videobert_studies_run_and_share_visual_words_within_a_world(tmp_path, monkeypatch):
    from minimodels.recipes import videobert as vb

    built = []
    real = vb.visual_words
    monkeypatch.setattr(vb, "visual_words", lambda recipe, **kw: built.append(recipe.howto) or real(recipe, **kw))
    experiments._VIDEOBERT_CACHE.clear()
    run_experiment("videobert_augmentations", "smoke", [0], tmp_path, log=None)
    data = load("videobert_augmentations", tmp_path)
    assert len(data["arms"]) == len(vb.AUGMENTATION_WORLDS) * len(vb.AUGMENTATION_ARMS)
    assert len(built) == len(vb.AUGMENTATION_WORLDS)  # one clip network and k-means per world, not per arm
    for arm in data["arms"].values():
        assert set(experiments.EXPERIMENTS["videobert_augmentations"].metric_names("smoke")) <= set(arm["runs"]["0"])
    run_experiment("videobert_zero_shot", "smoke", [0], tmp_path, log=None)
    zs = load("videobert_zero_shot", tmp_path)
    recipes = {name: arm["recipe"] for name, arm in zs["arms"].items()}
    assert {(r["howto"]["probe_in_narration"], r["clip_labels"]) for r in recipes.values()} == {
        (True, "verb_noun"), (False, "verb_noun"), (True, "motion"), (False, "motion")}
    assert not stale_arms(zs) and not stale_arms(data)
    built.clear()
    run_experiment("videobert_data_size", "smoke", [0], tmp_path / "again", log=None)
    assert built == []  # the zero-shot arm left the same visual words: reused
    experiments._VIDEOBERT_CACHE.clear()
    run_experiment("videobert_data_size", "smoke", [0], tmp_path, log=None)
    sizes = load("videobert_data_size", tmp_path)
    assert len(built) == 1 and not stale_arms(sizes)  # one set of words for all shares
    # all of the videos is recorded once, as the zero-shot study's last arm: the same recipe
    assert list(sizes["arms"]) == [f"{s} of the videos" for s in vb.DATA_SHARES if s != "all"]
    assert experiments.is_arm_recipe(zs, "zero-shot: neither shortcut", vb.data_size_recipe("smoke", "all"))


def test_is_arm_recipe_tells_a_live_run_that_is_a_recorded_arm_from_one_that_is_not():
    import dataclasses

    from minimodels.recipes import videobert as vb

    data = load("videobert_zero_shot")
    arm = "zero-shot: neither shortcut"
    assert experiments.is_arm_recipe(data, arm, vb.videobert_recipe("cpu"))
    assert experiments.is_arm_recipe(data, arm, vb.videobert_recipe("cpu", seed=2))  # another recorded seed
    assert not experiments.is_arm_recipe(data, arm, vb.videobert_recipe("smoke"))  # a smaller run
    assert not experiments.is_arm_recipe(data, arm, dataclasses.replace(vb.videobert_recipe("cpu"), mask_prob=0.2))
    assert not experiments.is_arm_recipe(data, "probe held out of the narration", vb.videobert_recipe("cpu"))
    with pytest.raises(ValueError, match="has no arm 'main'"):
        experiments.is_arm_recipe(data, "main", vb.videobert_recipe("cpu"))
