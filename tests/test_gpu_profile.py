"""benchmarks/gpu_profile.py: the command that measures the gpu profile on a GPU must not rot between
GPU sessions. Its --dry run (every gpu recipe, 2 steps per stage, a handful of samples) runs here,
on whatever device there is, and writes a complete results file."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minimodels.experiments import EXPERIMENTS, FIELDS
from minimodels.recipes.common import run_identity, stage_configs

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_profile.py"
TIMES = ("steps", "samples_per_s", "train_time_s", "wall_time_s", "main_stage_flops")


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_profile", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while it is being defined
    spec.loader.exec_module(module)
    return module


gp = _load_script()


def _check_values(name, values):
    exp = EXPERIMENTS[gp.RUNS[name].experiment]
    missing = [k for k in (*exp.metrics, *TIMES, "gpu", "peak_memory_gib") if k not in values]
    assert not missing, f"{name}: no {missing} in {sorted(values)}"
    for k, v in values.items():
        if k in ("gpu", "peak_memory_gib"):
            continue
        assert isinstance(v, (int, float)) and math.isfinite(v), f"{name}: {k} = {v!r}"
    assert values["steps"] == 2 and values["samples_per_s"] > 0 and values["train_time_s"] > 0
    assert values["wall_time_s"] >= values["train_time_s"] and values["main_stage_flops"] > 0
    if torch.cuda.is_available():
        assert values["gpu"] == torch.cuda.get_device_name(0) and values["peak_memory_gib"] > 0
    else:
        assert values["gpu"] is None and values["peak_memory_gib"] is None


def test_dry_run_writes_every_run_complete(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry", "--out", str(tmp_path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Warning" not in proc.stderr, proc.stderr[-3000:]
    data = json.loads((tmp_path / "gpu_profile.json").read_text())
    assert set(FIELDS) <= set(data), f"missing fields {set(FIELDS) - set(data)}"
    assert data["complete"] and data["dry"] and data["errors"] == {}
    assert data["name"] == "gpu_profile" and data["profile"] == "gpu" and data["seeds"] == [0]
    assert data["command"] == "python benchmarks/gpu_profile.py --dry"
    assert data["machine"]["threads"] == 1 and data["torch"] == torch.__version__
    assert list(data["arms"]) == [gp.RUNS[n].arm for n in gp.RUNS]  # all three, in order
    for name, run in gp.RUNS.items():
        arm = data["arms"][run.arm]
        dry = run.recipe(gp.DRY[name])
        assert arm["recipe"] == json.loads(json.dumps(run_identity(dry))), f"{name}: not the dry recipe"
        full = run_identity(run.recipe())
        for stage in stage_configs(dry):  # the dry run is the gpu recipe with 2 steps per stage ...
            assert arm["recipe"][stage]["steps"] == 2
        same = [k for k in full if k not in gp.DRY[name] and k not in stage_configs(dry)]  # ... and otherwise the same
        assert {k: arm["recipe"][k] for k in same} == json.loads(json.dumps({k: full[k] for k in same}))
        assert list(arm["runs"]) == ["0"]
        _check_values(name, arm["runs"]["0"])
        assert proc.stdout.count(f"\n{name}: ") == 1, f"no summary line for {name}:\n{proc.stdout}"
    assert 0 < data["wall_time_s"] and "total: " in proc.stdout


@pytest.mark.usefixtures("one_thread")
def test_a_failed_run_is_recorded_the_others_kept_and_the_exit_is_non_zero(tmp_path, monkeypatch, capsys):
    def fails(recipe, log):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(gp.RUNS["segformer"], "train", fails)
    rc = gp.main(["--dry", "--out", str(tmp_path), "--runs", "segformer", "vivit"])
    assert rc == 1
    data = json.loads((tmp_path / "gpu_profile.json").read_text())
    assert not data["complete"] and data["command"] == "python benchmarks/gpu_profile.py --dry --runs segformer vivit"
    seg_arm, vivit_arm = gp.RUNS["segformer"].arm, gp.RUNS["vivit"].arm
    assert list(data["arms"]) == [seg_arm, vivit_arm]
    assert data["errors"] == {seg_arm: "RuntimeError: CUDA out of memory (simulated)"}
    assert data["arms"][seg_arm]["runs"] == {}
    _check_values("vivit", data["arms"][vivit_arm]["runs"]["0"])
    out = capsys.readouterr().out
    assert "segformer: FAILED" in out and "INCOMPLETE" in out
