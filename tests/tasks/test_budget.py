"""Time budgets on another clock (CPU time) and the cosine LR annealed to them, shared by the
lm and seq2seq tasks."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from rnnkit.tasks.budget import ClockBudget, CosineToBudget, budget_callback


def test_cosine_to_budget_warms_up_then_anneals_by_time_or_steps():
    sched = CosineToBudget(warmup_steps=10, min_ratio=0.1)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    tr = SimpleNamespace(config=SimpleNamespace(lr=1.0, epochs=1, time_budget=None),
                         batches_per_epoch=100, optimizer=opt, global_step=0)
    sched.on_fit_start(tr)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1, rel_tol=1e-3)  # warm-up step 1/10
    tr.global_step = 50
    sched.on_before_optimizer_step(tr)
    assert math.isclose(opt.param_groups[0]["lr"], 0.55, rel_tol=1e-6)  # half-way: the mean
    tr.config.time_budget, sched.t0 = 10.0, sched.t0 - 20.0  # the budget is spent
    sched.on_before_optimizer_step(tr)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1, rel_tol=1e-6)
    short = CosineToBudget(warmup_steps=100, min_ratio=0.1)
    tr.batches_per_epoch, tr.global_step = 20, 0
    short.on_fit_start(tr)
    assert short.warmup == 2  # a tenth of a 20-step run, not 100 steps


def test_cosine_to_budget_with_its_own_clock_stops_training():
    now = [0.0]
    sched = CosineToBudget(0, 0.1, clock=lambda: now[0], budget=100.0)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    tr = SimpleNamespace(config=SimpleNamespace(lr=1.0, epochs=10**6, time_budget=None),
                         batches_per_epoch=100, optimizer=opt, global_step=0,
                         should_stop=False, stop_reason="")
    sched.on_fit_start(tr)
    now[0] = 50.0
    sched.on_before_optimizer_step(tr)
    sched.on_train_batch_end(tr, {})
    assert math.isclose(opt.param_groups[0]["lr"], 0.55, rel_tol=1e-6) and not tr.should_stop
    now[0] = 100.0
    sched.on_train_batch_end(tr, {})
    assert tr.should_stop and "time budget" in tr.stop_reason


def test_clock_budget_only_stops_and_budget_callback_picks_the_callback():
    now = [0.0]
    stop = ClockBudget(clock=lambda: now[0], budget=10.0)
    tr = SimpleNamespace(should_stop=False, stop_reason="")
    stop.on_fit_start(tr)
    now[0] = 9.0
    stop.on_train_batch_end(tr, {})
    assert not tr.should_stop
    now[0] = 10.5
    stop.on_train_batch_end(tr, {})
    assert tr.should_stop and "10 s" in tr.stop_reason
    clock = lambda: 0.0  # noqa: E731
    assert budget_callback(None, 60.0) is None  # the trainer's wall-clock budget suffices
    assert type(budget_callback(clock, 60.0)) is ClockBudget
    cos = budget_callback(clock, 60.0, cosine=(5, 0.1))
    assert isinstance(cos, CosineToBudget) and cos.budget == 60.0 and cos.clock is clock
    wall = budget_callback(None, 60.0, cosine=(5, 0.1))
    assert wall.budget is None  # anneals to the trainer's time_budget, which also stops
