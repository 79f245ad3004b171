import json

import pytest

from minimodels import profiles, report


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("MINIMODELS_PROFILE", "CPU")
    assert profiles.current() == "cpu"
    assert profiles.pick(smoke=1, cpu=2, gpu=3) == 2
    monkeypatch.setenv("MINIMODELS_PROFILE", "laptop")
    with pytest.raises(ValueError, match="smoke"):
        profiles.current()


def test_default_profile_follows_cuda(monkeypatch):
    import torch

    monkeypatch.delenv("MINIMODELS_PROFILE", raising=False)
    assert profiles.current() == ("gpu" if torch.cuda.is_available() else "cpu")


def test_pick_needs_every_profile():
    with pytest.raises(ValueError, match="missing"):
        profiles.pick("cpu", smoke=1, cpu=2)
    with pytest.raises(ValueError, match="unknown"):
        profiles.pick("cpu", smoke=1, cpu=2, gpu=3, tpu=4)


def test_table_and_record(tmp_path, monkeypatch):
    text = report.format_table([("b0", 3752694, 8.4), ("b1", 13.1, None)], ["model", "params", "GMACs"])
    lines = text.splitlines()
    assert lines[0].split() == ["model", "params", "GMACs"]
    assert "3,752,694" in lines[2] and lines[3].rstrip().endswith("-")
    with pytest.raises(ValueError, match="3 cells"):
        report.format_table([(1, 2)], ["a", "b", "c"])
    monkeypatch.setattr(report, "NOTEBOOK_RESULTS", tmp_path)
    monkeypatch.setenv("MINIMODELS_PROFILE", "cpu")
    report.record("nb", "miou", 0.8, paper=None, unit="")
    report.record("nb", "gmacs", 8.41, paper=8.4, unit="G")
    saved = json.loads((tmp_path / "nb.json").read_text())
    assert {k: v for k, v in saved["gmacs"].items() if k != "time"} == {
        "ours": 8.41, "paper": 8.4, "unit": "G", "note": "", "profile": "cpu"}
    assert "gmacs" in report.summary() and "miou" in report.summary()
    # a number recorded under another profile never shows next to these
    monkeypatch.setenv("MINIMODELS_PROFILE", "smoke")
    report.record("nb", "zero-shot", 14.3)
    cpu = report.summary("cpu")
    assert "cpu profile" in cpu and "zero-shot" not in cpu and "1 numbers recorded under other profiles" in cpu
    smoke = report.summary()
    assert "zero-shot" in smoke and "gmacs" not in smoke
