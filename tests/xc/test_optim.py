"""The row-sparse optimizers against torch's own SGD/AdamW, for both inactive-row semantics."""

import pytest
import torch

from opencook.xc.train.optim import RowSparseAdamW, RowSparseSGD

ROWS, DIM, STEPS = 20, 4, 6


def _sparse_grads(seed: int = 0) -> list[torch.Tensor]:
    """A gradient sequence that touches a different random subset of rows at each step."""
    gen = torch.Generator().manual_seed(seed)
    grads = []
    for _ in range(STEPS):
        rows = torch.randperm(ROWS, generator=gen)[:6].sort().values
        values = torch.randn(6, DIM, generator=gen)
        grads.append(torch.sparse_coo_tensor(rows.unsqueeze(0), values, (ROWS, DIM), check_invariants=True))
    return grads


def _init() -> torch.Tensor:
    return torch.randn(ROWS, DIM, generator=torch.Generator().manual_seed(7))


def _run(make, grads, init):
    p = torch.nn.Parameter(init.clone())
    opt = make([p])
    history = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        history.append(p.detach().clone())
    return history, opt, p


SETTINGS = [
    (RowSparseSGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    (RowSparseSGD, torch.optim.SGD, dict(lr=0.1)),
    (RowSparseAdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
]


@pytest.mark.parametrize("ours,theirs,kw", SETTINGS)
def test_dense_semantics_equal_torch_on_the_zero_filled_gradient(ours, theirs, kw):
    init, grads = _init(), _sparse_grads()
    mine, _, _ = _run(lambda ps: ours(ps, inactive_rows="dense", **kw), grads, init)
    ref, _, _ = _run(lambda ps: theirs(ps, **kw), [g.to_dense() for g in grads], init)
    for a, b in zip(mine, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ours,theirs,kw", SETTINGS)
def test_dense_gradients_follow_torch(ours, theirs, kw):
    init, grads = _init(), [g.to_dense() for g in _sparse_grads(1)]
    for lazy in ("lazy", "dense"):
        mine, _, _ = _run(lambda ps: ours(ps, inactive_rows=lazy, **kw), grads, init)  # noqa: B023
        ref, _, _ = _run(lambda ps: theirs(ps, **kw), grads, init)
        torch.testing.assert_close(mine[-1], ref[-1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ours,theirs,kw", SETTINGS)
def test_lazy_rows_follow_torch_on_their_own_active_steps_and_sleep_otherwise(ours, theirs, kw):
    init, grads = _init(), _sparse_grads(2)
    mine, opt, p = _run(lambda ps: ours(ps, inactive_rows="lazy", **kw), grads, init)
    for row in range(ROWS):
        active_steps = [g.to_dense()[row] for g in grads if row in g.coalesce().indices()[0].tolist()]
        ref, _, _ = _run(lambda ps: theirs(ps, **kw), [s.unsqueeze(0) for s in active_steps], init[row:row + 1])
        final = ref[-1][0] if ref else init[row]
        torch.testing.assert_close(p.detach()[row], final, rtol=1e-5, atol=1e-5)  # division by sqrt(v) amplifies rounding
    # between its active steps a row does not move at all, momentum and weight decay notwithstanding
    before = init
    for g, after in zip(grads, mine, strict=True):
        idle = torch.ones(ROWS, dtype=torch.bool)
        idle[g.coalesce().indices()[0]] = False
        assert torch.equal(after[idle], before[idle])
        before = after


def test_dense_semantics_move_inactive_rows_when_momentum_or_decay_is_on():
    init, grads = _init(), _sparse_grads(3)
    mine, _, _ = _run(lambda ps: RowSparseSGD(ps, lr=0.1, momentum=0.9, inactive_rows="dense"), grads, init)
    idle = torch.ones(ROWS, dtype=torch.bool)
    idle[grads[1].coalesce().indices()[0]] = False
    assert not torch.equal(mine[1][idle], mine[0][idle])


def test_bad_settings_are_refused():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="inactive_rows"):
        RowSparseSGD(p, lr=0.1, inactive_rows="sleepy")
    with pytest.raises(ValueError):
        RowSparseAdamW(p, lr=-1)
