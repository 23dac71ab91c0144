"""A resume state restores weights, optimiser, scheduler, RNGs and data position, so the continued run computes
exactly what the uninterrupted one does; a state saved for other inputs is ignored."""

from __future__ import annotations

from pathlib import Path

import torch

from services.trainer.backends import resume_state as resume


def parts(seed: int = 0):  # type: ignore[no-untyped-def]
    """One frozen base weight (the same in every process) and trainable weights initialised from `seed`."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
    model[0].weight.requires_grad_(False)  # a frozen base weight is not part of the state
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn_like(p))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (1 + step))
    return model, optimizer, scheduler


def step(model, optimizer, scheduler) -> None:  # type: ignore[no-untyped-def]
    loss = model(torch.rand(3, 4)).square().mean()  # draws from the RNG, and so does dropout
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()


def test_a_restored_run_continues_bit_for_bit(tmp_path: Path) -> None:
    model, optimizer, scheduler = parts()
    order = [[[0, 1], [2]], [[2, 0], [1]]]
    for _ in range(3):
        step(model, optimizer, scheduler)
    at = resume.Position(step=3, epoch=1, batch=1, losses=[1.0, 0.5, 0.25], tokens=30, padding=2, seconds=1.5)
    resume.save(tmp_path / "s", "inputs", order, at, model, optimizer, scheduler)
    for _ in range(4):
        step(model, optimizer, scheduler)
    expected = [p.detach().clone() for p in model.parameters()]

    fresh, fresh_optimizer, fresh_scheduler = parts(seed=123)  # another process: other init, other RNG
    restored = resume.load(tmp_path / "s", "inputs", fresh, fresh_optimizer, fresh_scheduler)
    assert restored is not None
    position, saved_order = restored
    assert position == at and saved_order == order
    for _ in range(4):
        step(fresh, fresh_optimizer, fresh_scheduler)
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), expected, strict=True))


def test_a_state_for_other_inputs_is_ignored(tmp_path: Path) -> None:
    model, optimizer, scheduler = parts()
    resume.save(tmp_path / "s", "inputs", [], resume.Position(), model, optimizer, scheduler)
    assert resume.load(tmp_path / "s", "other inputs", *parts()) is None
