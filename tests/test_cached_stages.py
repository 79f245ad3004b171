"""Pretrained stages kept in a cache directory for later runs (a later notebook loads what an
earlier one trained): SegFormer's encoder (notebook 01 -> 02) and ViViT's image ViT (03 -> 04)."""

import pytest
import torch

from minimodels.recipes.segformer import segformer_recipe, train_segformer
from minimodels.recipes.vivit import train_vivit, vivit_recipe
from minimodels.train import CheckpointError

pytestmark = pytest.mark.usefixtures("one_thread")

# run, recipe builder, cache file pattern, the log line of a loaded stage and of a trained one, the metric
STAGES = {
    "segformer encoder": (train_segformer, segformer_recipe, "segformer-encoder-smoke-*.pt",
                          "pretrained encoder: loaded", "pretraining the encoder", "miou"),
    "vivit image ViT": (train_vivit, vivit_recipe, "vivit-image-vit-smoke-*.pt",
                        "pretrained image ViT: loaded", "image pretraining:", "acc"),
}


@pytest.mark.parametrize("stage", STAGES)
def test_pretrained_stage_is_cached_and_gives_the_same_run(stage, tmp_path):
    train, make_recipe, pattern, loaded_line, trained_line, metric = STAGES[stage]
    recipe = make_recipe("smoke")
    fresh = train(recipe, log=None)  # no cache: pretrains
    cached = train(recipe, log=None, cache_dir=tmp_path)  # pretrains and saves the stage
    assert len(list(tmp_path.glob(pattern))) == 1
    lines = []
    loaded = train(recipe, log=lines.append, cache_dir=tmp_path)  # loads it
    assert any(loaded_line in line for line in lines)
    assert not any(trained_line in line for line in lines)
    assert loaded.pretrain.loss == fresh.pretrain.loss and loaded.pretrain.evals == fresh.pretrain.evals
    # the next stage is seeded on its own: the same run whether the pretrained one was loaded or trained
    for run in (cached, loaded):
        assert run.history.loss == fresh.history.loss and run[metric] == fresh[metric]
        assert all(torch.equal(p, q) for p, q in zip(fresh.model.parameters(), run.model.parameters()))
    # a recipe whose pretraining differs does not pick up these weights; one that differs only after it does
    lines = []
    train(make_recipe("smoke", pretrain={"steps": recipe.pretrain.steps + 1}), log=lines.append, cache_dir=tmp_path)
    assert any(trained_line in line for line in lines)
    lines = []
    train(make_recipe("smoke", train={"steps": recipe.train.steps + 1}), log=lines.append, cache_dir=tmp_path)
    assert any(loaded_line in line for line in lines)
    # a corrupt cache file is an error naming it, never a silently different stage
    for path in tmp_path.glob(pattern):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        train(recipe, log=None, cache_dir=tmp_path)
