"""The sparse row-wise optimizers."""

from __future__ import annotations

import torch

from mmkg.platform.kge.optim import RowAdagrad, RowAdam


def test_row_adagrad_touches_only_the_given_rows_and_follows_dgl_ke() -> None:
    weight = torch.ones(6, 4)
    opt = RowAdagrad(lr=0.5)
    state = opt.init_state(weight)
    index = torch.tensor([1, 4])
    grad = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 0.0, 0.0]])
    opt.update(weight, state, index, grad)
    untouched = torch.tensor([0, 2, 3, 5])
    assert torch.equal(weight[untouched], torch.ones(4, 4))
    # row 1: mean g² = 1 → step 0.5·g/1; row 4: mean g² = 1 → step 0.5·g
    torch.testing.assert_close(weight[1], torch.full((4,), 0.5))
    torch.testing.assert_close(weight[4], torch.tensor([0.0, 1.0, 1.0, 1.0]))
    torch.testing.assert_close(state["sum"], torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0]))


def test_row_adam_equals_dense_adam_when_every_row_is_touched() -> None:
    torch.manual_seed(0)
    start = torch.randn(5, 3)
    ours = start.clone()
    opt = RowAdam(lr=0.01)
    state = opt.init_state(ours)
    ref = torch.nn.Parameter(start.clone())
    torch_opt = torch.optim.Adam([ref], lr=0.01)
    for step in range(4):
        grad = torch.randn(5, 3, generator=torch.Generator().manual_seed(step))
        opt.update(ours, state, torch.arange(5), grad)
        ref.grad = grad.clone()
        torch_opt.step()
    torch.testing.assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-6)


def test_row_adam_keeps_per_row_step_counts() -> None:
    weight = torch.zeros(3, 2)
    opt = RowAdam(lr=0.1)
    state = opt.init_state(weight)
    opt.update(weight, state, torch.tensor([0]), torch.ones(1, 2))
    opt.update(weight, state, torch.tensor([0, 2]), torch.ones(2, 2))
    assert state["steps"].tolist() == [2.0, 0.0, 1.0]
    assert torch.equal(weight[1], torch.zeros(2))
    # Bias correction makes the first step of a row exactly lr, whenever it comes.
    torch.testing.assert_close(weight[2], torch.full((2,), -0.1))
