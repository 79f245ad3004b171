import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minimodels import train
from minimodels.train import TrainConfig, fit, lr_at, param_groups, sample_batches


pytestmark = pytest.mark.usefixtures("one_thread")


class TinyNet(nn.Module):
    """Conv + BatchNorm + Dropout + a learned position table + a head: every kind of parameter
    the groups distinguish, and every source of randomness the loop has to make reproducible."""

    def __init__(self):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, 4, 6, 6))
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(4 * 36, 2)

    def forward(self, x):
        x = self.drop(F.relu(self.norm(self.conv(x) + self.pos_embed)))
        return self.head(x.flatten(1))


def _data(n=64):
    g = torch.Generator().manual_seed(123)
    x = torch.randn(n, 3, 6, 6, generator=g)
    return x, (x[:, 0].mean((1, 2)) > 0).long()


def _loss(model, batch):
    x, y = batch
    logits = model(x)
    return F.cross_entropy(logits, y), {"acc": (logits.argmax(1) == y).float().mean()}


def _model(seed=0):
    torch.manual_seed(seed)
    return TinyNet()


# --- schedule ------------------------------------------------------------------------------------


def test_poly_schedule_warms_up_linearly_then_decays_to_min_lr():
    cfg = TrainConfig(steps=110, lr=1.0, warmup_steps=10, schedule="poly", poly_power=1.0, min_lr=0.01)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(4, cfg) == pytest.approx(0.5)
    assert lr_at(10, cfg) == pytest.approx(1.0)  # peak right after warm-up
    assert lr_at(60, cfg) == pytest.approx(0.01 + 0.99 * 0.5)  # power 1: a straight line
    assert lr_at(110, cfg) == pytest.approx(0.01)
    lrs = [lr_at(s, cfg) for s in range(10, 110)]
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    squared = TrainConfig(steps=110, lr=1.0, warmup_steps=10, poly_power=2.0)
    assert lr_at(60, squared) == pytest.approx(0.25)


def test_cosine_schedule():
    cfg = TrainConfig(steps=100, lr=2.0, schedule="cosine", min_lr=0.0)
    assert lr_at(0, cfg) == pytest.approx(2.0)
    assert lr_at(50, cfg) == pytest.approx(1.0)
    assert lr_at(25, cfg) == pytest.approx(1.0 + math.cos(math.pi / 4))
    assert lr_at(100, cfg) == pytest.approx(0.0, abs=1e-12)


def test_scheduler_drives_optimizer_and_keeps_head_multiplier():
    cfg = TrainConfig(steps=20, lr=0.1, warmup_steps=4, head=("head.",), head_lr_mult=10.0)
    opt = train.make_optimizer(_model(), cfg)
    sched = train.make_scheduler(opt, cfg)
    for step in range(12):
        by_name = {g["name"]: g["lr"] for g in opt.param_groups}
        assert by_name["decay"] == pytest.approx(lr_at(step, cfg))
        assert by_name["head_decay"] == pytest.approx(10 * lr_at(step, cfg))
        opt.step()
        sched.step()


def test_bad_config_values_are_rejected():
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="step")
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8")
    with pytest.raises(ValueError, match="channels_last"):
        TrainConfig(channels_last="yes")


# --- parameter groups ----------------------------------------------------------------------------


def test_param_groups_decay_and_head_lr():
    cfg = TrainConfig(lr=1e-3, weight_decay=0.05, head=("head.",), head_lr_mult=10.0)
    groups = {g["name"]: g for g in param_groups(_model(), cfg)}
    assert set(groups) == {"decay", "no_decay", "head_decay", "head_no_decay"}
    assert groups["decay"]["param_names"] == ["conv.weight"]
    assert sorted(groups["no_decay"]["param_names"]) == ["conv.bias", "norm.bias", "norm.weight", "pos_embed"]
    assert groups["head_decay"]["param_names"] == ["head.weight"]
    assert groups["head_no_decay"]["param_names"] == ["head.bias"]
    assert groups["decay"]["weight_decay"] == 0.05 and groups["no_decay"]["weight_decay"] == 0.0
    assert groups["head_decay"]["lr"] == pytest.approx(1e-2) and groups["decay"]["lr"] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="decoder"):
        param_groups(_model(), TrainConfig(head=("decoder.",)))


def test_weight_decay_spares_no_decay_params():
    """With zero gradients, AdamW only decays: the decayed weight shrinks, the others stay put."""
    model = _model()
    with torch.no_grad():
        model.pos_embed.fill_(1.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = train.make_optimizer(model, TrainConfig(lr=0.1, weight_decay=0.5))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(model.named_parameters())
    assert torch.allclose(after["conv.weight"], before["conv.weight"] * (1 - 0.1 * 0.5))
    for name in ("pos_embed", "conv.bias", "norm.weight"):
        assert torch.equal(after[name], before[name]), name


# --- the loop ------------------------------------------------------------------------------------


def test_fit_learns_and_records_history():
    x, y = _data()
    cfg = TrainConfig(steps=60, batch_size=16, lr=3e-2, warmup_steps=5, eval_every=30, log_every=20, progress=False)
    lines = []
    history = fit(_model(), sample_batches(x, y, batch_size=16), _loss, cfg,
                  evaluate=lambda m: {"acc": (m(x).argmax(1) == y).float().mean()}, log=lines.append)
    assert history.step == list(range(60))
    assert len(history.loss) == len(history.lr) == len(history.metrics["acc"]) == 60
    assert history.lr[0] == pytest.approx(lr_at(0, cfg)) and history.lr[-1] == pytest.approx(lr_at(59, cfg))
    assert [e["step"] for e in history.evals] == [30, 60]
    assert history.evals[-1]["acc"] > 0.85  # the label is the sign of channel 0's mean: easy
    assert sum(history.loss[-10:]) < 0.6 * sum(history.loss[:10])
    assert history.samples == 60 * 16 and history.samples_per_s > 0 and history.wall_time >= history.train_time > 0
    assert len([ln for ln in lines if ln.startswith("step")]) == 3 and len([ln for ln in lines if ln.startswith("eval")]) == 2


def test_fit_accepts_an_iterable_of_batches():
    x, y = _data(32)
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    history = fit(_model(), batches, _loss, TrainConfig(steps=5, lr=1e-2, progress=False))
    assert len(history.loss) == 5 and history.samples == 80


def test_grad_clip_bounds_the_global_norm():
    x, y = _data()
    batch = (x, y)

    def big_loss(model, batch):  # a scaled-up loss: gradients far above the clip threshold
        loss, metrics = _loss(model, batch)
        return 1000 * loss, metrics

    def grad_norm(model):
        return torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])).item()

    clipped, free = _model(), _model()
    h = fit(clipped, [batch], big_loss, TrainConfig(steps=1, lr=1e-3, grad_clip=0.5, progress=False))
    fit(free, [batch], big_loss, TrainConfig(steps=1, lr=1e-3, progress=False))
    assert h.metrics["grad_norm"][0] > 5.0  # the norm before clipping is reported
    assert grad_norm(free) > 5.0
    assert grad_norm(clipped) == pytest.approx(0.5, rel=1e-4)


def test_same_seed_same_run_other_seed_other_run():
    x, y = _data()

    def run(seed):
        model = _model()
        cfg = TrainConfig(steps=8, lr=1e-2, seed=seed, progress=False)  # dropout draws from the seed
        return fit(model, sample_batches(x, y, batch_size=8, seed=1), _loss, cfg).loss, model

    (loss_a, a), (loss_b, b), (loss_c, c) = run(0), run(0), run(1)
    assert loss_a == loss_b and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert loss_a != loss_c


def test_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    train.save_checkpoint(path, {"step": 1, "w": torch.ones(3)})

    def crash(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, {"step": 2, "w": torch.zeros(3)})
    monkeypatch.undo()
    ckpt = train.load_checkpoint(path)  # the old checkpoint is intact
    assert ckpt["step"] == 1 and torch.equal(ckpt["w"], torch.ones(3))


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path):
    """10 steps in one go == 5 steps, a crash at step 7, resume from the step-5 checkpoint."""
    x, y = _data()
    batches = sample_batches(x, y, batch_size=8, seed=3)
    cfg = dict(steps=10, lr=1e-2, warmup_steps=3, weight_decay=0.1, grad_clip=1.0, head=("head.",),
               head_lr_mult=5.0, progress=False)
    evaluate = lambda m: {"acc": (m(x).argmax(1) == y).float().mean()}  # noqa: E731

    whole = _model()
    h_whole = fit(whole, batches, _loss, TrainConfig(**cfg, eval_every=5), evaluate=evaluate)

    class Interrupt(Exception):
        pass

    def crashing(step):
        if step == 7:
            raise Interrupt
        return batches(step)

    ck = TrainConfig(**cfg, eval_every=5, checkpoint=str(tmp_path / "run.pt"), checkpoint_every=5)
    with pytest.raises(Interrupt):
        fit(_model(), crashing, _loss, ck, evaluate=evaluate)
    assert train.load_checkpoint(ck.checkpoint)["step"] == 5
    resumed = _model(seed=99)  # a fresh process: different init, all overwritten by the checkpoint
    h_resumed = fit(resumed, batches, _loss, ck, evaluate=evaluate, resume=True)

    for (name, p), q in zip(whole.named_parameters(), resumed.parameters()):
        assert torch.equal(p, q), name
    for name, buf in whole.named_buffers():  # BatchNorm running stats too
        assert torch.equal(buf, dict(resumed.named_buffers())[name]), name
    assert h_resumed.loss == h_whole.loss and h_resumed.step == list(range(10))
    assert h_resumed.evals == h_whole.evals
    assert train.load_checkpoint(ck.checkpoint)["step"] == 10
    # resuming a finished run trains nothing and keeps the weights
    again = fit(resumed, batches, _loss, ck, resume=True)
    assert again.step == list(range(10)) and torch.equal(next(resumed.parameters()), next(whole.parameters()))


def test_resume_with_an_iterable_fast_forwards(tmp_path):
    x, y = _data(40)
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 40, 8)]  # 5 batches, cycled over 7 steps
    cfg = TrainConfig(steps=7, lr=1e-2, progress=False, checkpoint=str(tmp_path / "it.pt"), checkpoint_every=3)
    whole = _model()
    fit(whole, batches, _loss, TrainConfig(steps=7, lr=1e-2, progress=False))

    calls = []

    def crash_at_5(model, batch):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return _loss(model, batch)

    with pytest.raises(KeyboardInterrupt):
        fit(_model(), batches, crash_at_5, cfg)
    resumed = _model()
    fit(resumed, batches, _loss, cfg, resume=True)  # skips the 3 batches already used
    assert all(torch.equal(p, q) for p, q in zip(whole.parameters(), resumed.parameters()))


def test_amp_and_channels_last_resolution():
    cpu = torch.device("cpu")
    assert train.autocast_dtype(TrainConfig(amp="auto"), cpu) is None  # auto: CPU stays fp32
    assert train.autocast_dtype(TrainConfig(amp="bf16"), cpu) is torch.bfloat16
    assert train.autocast_dtype(TrainConfig(amp="off"), torch.device("cuda")) is None
    x = torch.randn(2, 3, 4, 5)
    moved = train.to_device({"x": x, "y": [torch.ones(2)]}, cpu, channels_last=True)
    assert moved["x"].is_contiguous(memory_format=torch.channels_last) and torch.equal(moved["x"], x)


def test_channels_last_run_resumes_from_a_contiguous_checkpoint(tmp_path):
    """A checkpoint written without channels_last resumes with it: the optimizer state is
    moved to the parameters' memory layout, and training goes on as if nothing changed."""
    x, y = _data()
    batches = sample_batches(x, y, batch_size=8, seed=5)

    def model():
        m = _model()
        m.drop.p = 0.0  # dropout would draw its mask in memory order, i.e. differently in NHWC
        return m

    whole = model()
    h_whole = fit(whole, batches, _loss, TrainConfig(steps=6, lr=1e-2, progress=False))
    path = str(tmp_path / "cl.pt")

    def crash_at_4(step):
        if step == 4:
            raise KeyboardInterrupt
        return batches(step)

    with pytest.raises(KeyboardInterrupt):  # checkpoint at step 3, contiguous weights
        fit(model(), crash_at_4, _loss, TrainConfig(steps=6, lr=1e-2, progress=False, checkpoint=path,
                                                    checkpoint_every=3))
    resumed = model()
    h = fit(resumed, batches, _loss, TrainConfig(steps=6, lr=1e-2, progress=False, checkpoint=path,
                                                 channels_last=True), resume=True)
    assert resumed.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert h.loss == pytest.approx(h_whole.loss, rel=1e-5)
    for (name, p), q in zip(whole.named_parameters(), resumed.parameters()):
        if name != "conv.bias":  # BatchNorm cancels its gradient: Adam normalises rounding noise there
            assert torch.allclose(p, q, atol=1e-6), name


def test_bf16_autocast_runs_on_cpu():
    x, y = _data(16)
    h = fit(_model(), [(x, y)], _loss, TrainConfig(steps=3, lr=1e-2, amp="bf16", progress=False))
    assert all(math.isfinite(v) for v in h.loss)


def test_progress_bar_goes_to_stderr(capsys):
    x, y = _data(16)
    fit(_model(), [(x, y)], _loss, TrainConfig(steps=3, progress=True))
    captured = capsys.readouterr()
    assert "3/3" in captured.err and captured.out == ""


# --- faults: another run's checkpoint, non-finite values, corrupt files ---------------------------


def test_resume_refuses_another_runs_checkpoint_and_says_what_it_does(tmp_path, capsys):
    x, y = _data()
    batches = sample_batches(x, y, batch_size=8, seed=3)
    ck = TrainConfig(steps=4, lr=1e-2, seed=1, checkpoint=str(tmp_path / "run.pt"), progress=False)
    lines = []
    fit(_model(), batches, _loss, ck, resume=True, log=lines.append, run={"recipe": "A", "width": 4})
    assert lines == [f"nothing to resume: no checkpoint at {ck.checkpoint}; starting from step 0"]
    for changed, fields in ((dict(seed=2), "seed: 1 -> 2"), (dict(steps=2), "steps: 4 -> 2"),
                            (dict(lr=1e-3), "lr: 0.01 -> 0.001")):
        with pytest.raises(train.CheckpointError, match=rf"written by another run; .*{fields}"):
            fit(_model(), batches, _loss, dataclasses.replace(ck, **changed), resume=True, run={"recipe": "A", "width": 4})
    with pytest.raises(train.CheckpointError, match=r"run.width: 4 -> 8"):
        fit(_model(), batches, _loss, ck, resume=True, run={"recipe": "A", "width": 8})
    with pytest.raises(train.CheckpointError, match=r"a checkpoint of a A run, not of this B run"):
        fit(_model(), batches, _loss, ck, resume=True, run={"recipe": "B", "width": 4})
    # runtime fields may change; the resume says where it starts
    lines = []
    fit(_model(), batches, _loss, dataclasses.replace(ck, log_every=1), resume=True, log=lines.append,
        run={"recipe": "A", "width": 4})
    assert lines[0] == f"resuming from step 4 of 4 ({ck.checkpoint})"


def test_resume_refuses_weights_of_another_model(tmp_path):
    x, y = _data()
    ck = TrainConfig(steps=2, checkpoint=str(tmp_path / "run.pt"), progress=False)
    fit(_model(), sample_batches(x, y, batch_size=8), _loss, ck)
    other = nn.Sequential(nn.Flatten(), nn.Linear(108, 2))
    with pytest.raises(train.CheckpointError, match="its weights do not fit this model"):
        fit(other, sample_batches(x, y, batch_size=8), lambda m, b: (F.cross_entropy(m(b[0]), b[1]), {}), ck,
            resume=True)


def test_a_non_finite_loss_stops_the_run_and_nothing_non_finite_is_saved(tmp_path):
    x, y = _data()
    x_bad = x.clone()
    x_bad[5, 0, 2, 2] = float("nan")  # one NaN pixel: BatchNorm would spread it to every later output
    ck = TrainConfig(steps=20, checkpoint=str(tmp_path / "run.pt"), checkpoint_every=2, progress=False)

    def batches(step):  # the NaN pixel arrives at step 6 (0-based 5)
        return (x_bad[:8] if step == 5 else x[8:16]), y[:8] if step == 5 else y[8:16]

    with pytest.raises(train.NonFiniteError, match=r"step 6 of 20: the loss is nan \(non-finite\); stopping the run, "
                                                   r"the last checkpoint \(.*run.pt\) is from before it"):
        fit(_model(), batches, _loss, ck)
    assert train.load_checkpoint(ck.checkpoint)["step"] == 4  # the last good one
    with pytest.raises(train.NonFiniteError, match=r"refusing to write .*x.pt: non-finite values in \['model.w'\]"):
        train.save_checkpoint(tmp_path / "x.pt", {"model": {"w": torch.tensor([1.0, float("inf")])}})
    assert not (tmp_path / "x.pt").exists()


def test_a_non_finite_gradient_stops_the_run():
    x, y = _data()

    def loss_fn(model, batch):  # a finite loss whose gradient is not: sqrt at 0
        loss, metrics = _loss(model, batch)
        return loss + (model.head.weight * 0).sum().sqrt(), metrics

    with pytest.raises(train.NonFiniteError, match=r"step 1 of 3: the gradient norm is nan"):
        fit(_model(), sample_batches(x, y, batch_size=8), loss_fn, TrainConfig(steps=3, grad_clip=1.0, progress=False))


def test_a_corrupt_checkpoint_is_named(tmp_path):
    path = tmp_path / "stage.pt"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(train.CheckpointError, match=r"stage.pt is not a readable checkpoint"):
        train.load_checkpoint(path)
    x, y = _data()
    with pytest.raises(train.CheckpointError, match=r"stage.pt is not a readable checkpoint"):
        fit(_model(), sample_batches(x, y, batch_size=8), _loss,
            TrainConfig(steps=2, checkpoint=str(path), progress=False), resume=True)
