"""benchmarks/bench_train_step.py on tiny configs: the two sides of every pair must compute the same
loss and gradients, the check must notice when they do not, and each side's optimizer must move its
own weights only - so that `make bench` keeps comparing like with like."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TINY_SEGFORMER = dict(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 2, 2],
                      decoder_hidden_size=16)
TINY_VIVIT = dict(image_size=32, tubelet_size=[2, 8, 8], hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=96)


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its sibling bench_forward
    try:
        spec = importlib.util.spec_from_file_location("bench_train_step", BENCHMARKS / "bench_train_step.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks its module up while it is being defined
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def tiny_args(bench, *argv):
    args = bench.parse_args(["--size", "64", "--images", "2", "--frames", "4", "--clips", "2", *argv])
    args.classes, args.segformer_config, args.vivit_config = 5, TINY_SEGFORMER, TINY_VIVIT
    return args


@pytest.mark.parametrize("name", ["segformer", "vivit"])
def test_both_sides_compute_the_same_step(bench, name):
    pair = bench.PAIRS[name](tiny_args(bench))
    assert pair.ours.training and pair.theirs.training
    start = {n: p.detach().clone() for n, p in pair.ours.named_parameters()}
    result = bench.time_pair(pair, repeats=2, warmup=1)
    assert result["loss_diff"] <= bench.LOSS_TOLERANCE
    assert result["grad_rel_diff"] <= bench.GRAD_TOLERANCE and result["grad_abs_diff"] < 1e-4
    assert result["ours_ms"] > 0 and result["theirs_ms"] > 0 and result["speedup"] > 0
    # three AdamW steps (1 warm-up + 2 rounds) moved our weights, and the two sides are still on one
    # trajectory. An Adam step moves a weight by about lr whatever its gradient, so where the
    # gradient is rounding noise (biases that BatchNorm cancels) the sides may part by 2 lr a step.
    assert all(not torch.equal(p, start[n]) for n, p in pair.ours.named_parameters())
    assert result["final_loss_diff"] <= 1e-4
    theirs, _ = pair.convert({n: p.detach() for n, p in pair.theirs.named_parameters()})
    for n, p in pair.ours.named_parameters():
        assert torch.allclose(p, theirs[n].reshape(p.shape), rtol=0, atol=2 * 3 * bench.LR), n


@pytest.mark.parametrize("name", ["segformer", "vivit"])
def test_the_check_sees_a_different_function(bench, name):
    pair = bench.PAIRS[name](tiny_args(bench))
    torch.manual_seed(1)
    with torch.no_grad():
        for p in pair.ours.parameters():  # weights 1% of a unit off: another function
            p.add_(0.01 * torch.randn_like(p))
    check = bench.check_pair(pair)
    assert check["loss_diff"] > bench.LOSS_TOLERANCE and check["grad_rel_diff"] > 10 * bench.GRAD_TOLERANCE


def test_the_check_refuses_shared_weights(bench):
    pair = bench.PAIRS["vivit"](tiny_args(bench))
    pair.theirs.classifier.weight = pair.ours.head.weight  # one optimizer step would move both models
    with pytest.raises(RuntimeError, match="share parameter storage"):
        bench.check_pair(pair)


def test_main_prints_one_row_per_model(bench, capsys):
    assert bench.main(args=tiny_args(bench, "--repeats", "2", "--warmup", "0")) == 0
    out = capsys.readouterr().out
    assert "SegFormer (test config) 2x3x64x64" in out and "ViViT (test config) Model 1 2x3x4x32x32" in out
    assert "MISMATCH" not in out
