"""Shared fixtures."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models: one thread is as fast, and does not thrash when other jobs share the CPU.
    A test module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def frozen_parameters():
    """``frozen(model, loss_fn, steps=2)``: the names of the parameters that a few SGD steps on
    ``loss_fn(model)`` left exactly as they were - weights no gradient can reach, e.g. a branch
    initialised so that it and everything behind it get zero gradients for ever. Two steps by
    default, so that weights behind a zero-initialised output projection get theirs on the second."""
    def frozen(model, loss_fn, steps=2, lr=0.1):
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(model).backward()
            opt.step()
        return [n for n, p in model.named_parameters() if torch.equal(p.detach(), before[n])]
    return frozen


@pytest.fixture
def every_parameter_learns(frozen_parameters):
    """``check(model, loss_fn)``: assert that :func:`frozen_parameters` finds none."""
    def check(model, loss_fn, **kwargs):
        frozen = frozen_parameters(model, loss_fn, **kwargs)
        assert not frozen, f"no gradient moved {frozen}"
    return check
