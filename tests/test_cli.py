"""The command line of the training runs: ``python -m minimodels.recipes MODEL --profile PROFILE``."""

import json
import os
import subprocess
import sys

import pytest

from minimodels.recipes import __main__ as cli
from minimodels.train import CheckpointError, load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


def test_cli_rejects_unknown_model_and_profile(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["resnet", "--profile", "cpu"])
    assert e.value.code == 2 and "unknown model 'resnet'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["segformer", "--profile", "tpu"])
    assert "unknown profile 'tpu'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["segformer", "--steps", "0"])
    assert "--steps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["segformer", "--seed", "-1"])
    assert "--seed must be a non-negative integer, got -1" in capsys.readouterr().err


def test_cli_seed_reaches_the_recipe(tmp_path):
    runs = {seed: cli.main(["videobert", "--profile", "smoke", "--seed", str(seed), "--out", str(tmp_path / str(seed)),
                              "--no-progress"]) for seed in (1, 2)}
    assert runs[1]["config"]["seed"] == 1 and runs[2]["config"]["seed"] == 2
    assert {stage["seed"] for stage in (runs[2]["config"][k] for k in ("s3d_pretrain", "s3d", "text_bert", "train"))} == {2}
    assert runs[1]["history"]["loss"] != runs[2]["history"]["loss"]  # a different run, not a relabelled one


def test_cli_smoke_run_writes_metrics_and_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "minimodels.recipes", "segformer", "--profile", "smoke", "--out", str(out),
           "--steps", "2", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "segformer" and metrics["profile"] == "smoke" and metrics["steps"] == 2
    assert 0.0 <= metrics["miou"] <= 1.0 and len(metrics["per_class_iou"]) == 11
    assert metrics["images_per_s"] > 0 and metrics["wall_time_s"] > 0 and metrics["device"].startswith("cpu")
    assert metrics["config"]["train"]["steps"] == 2 and metrics["config"]["profile"] == "smoke"
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 2
    # resuming the finished run trains nothing and reports the same run, its pretraining included
    again = cli.main(["segformer", "--profile", "smoke", "--out", str(out), "--steps", "2", "--no-progress", "--resume"])
    assert again["history"]["loss"] == metrics["history"]["loss"] and again["miou"] == metrics["miou"]
    for key in ("loss", "evals", "samples"):  # its pretraining too (loaded from its finished stage)
        assert again["pretrain"][key] == metrics["pretrain"][key]
    assert again["wall_time_s"] >= again["train_time_s"] > 0
    assert sorted(p.name for p in (out / "stages").iterdir()) == ["encoder_pretrain.pt"]


def test_cli_resume_refuses_another_run(tmp_path, capsys):
    out = tmp_path / "run"
    cli.main(["segformer", "--profile", "smoke", "--out", str(out), "--seed", "1", "--no-progress"])
    with pytest.raises(CheckpointError, match=r"written by another run; .*seed: 1 -> 2"):
        cli.main(["segformer", "--profile", "smoke", "--out", str(out), "--seed", "2", "--no-progress", "--resume"])
    with pytest.raises(CheckpointError, match=r"train.steps: 3 -> 2"):
        cli.main(["segformer", "--profile", "smoke", "--out", str(out), "--seed", "1", "--steps", "2",
                  "--no-progress", "--resume"])
    with pytest.raises(CheckpointError, match=r"checkpoint.pt is a checkpoint of a SegFormerRecipe run, not of this ViViTRecipe run"):
        cli.main(["vivit", "--profile", "smoke", "--out", str(out), "--no-progress", "--resume"])


def test_cli_checks_the_output_directory_before_any_work(tmp_path):
    target = tmp_path / "a_file"
    target.write_text("not a directory")
    for out in (target, target / "run"):
        with pytest.raises(NotADirectoryError, match=f"{target} is a file"):
            cli.main(["videobert", "--profile", "smoke", "--out", str(out), "--no-progress"])
