import math

import pytest
import torch
from torch import nn

from rnnkit.training import LRSchedule, TrainerConfig, build_optimizer, weight_decay_groups


def test_weight_decay_groups_exclude_biases():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    groups = weight_decay_groups(model, 0.1)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert sum(p.numel() for p in groups[0]["params"]) == 3 * 4 + 4 * 1
    assert all(p.dim() == 1 for p in groups[1]["params"])


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                       ("sgd", torch.optim.SGD), ("rmsprop", torch.optim.RMSprop)])
def test_build_optimizer(name, cls):
    cfg = TrainerConfig(optimizer=name, lr=0.05, weight_decay=0.01)
    opt = build_optimizer(nn.Linear(2, 2), cfg)
    assert type(opt) is cls
    assert all(g["lr"] == 0.05 for g in opt.param_groups)
    if name in ("sgd", "rmsprop"):
        assert opt.param_groups[0]["momentum"] == 0.9


def test_no_trainable_parameters_is_an_error():
    m = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(m, TrainerConfig())


def test_warmup_then_cosine_to_min_lr():
    s = LRSchedule(TrainerConfig(lr=1.0, schedule="cosine", warmup_steps=4, min_lr=0.1), 104)
    assert [s.factor(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s.factor(54) == pytest.approx(0.1 + 0.9 * 0.5)
    assert s.factor(104) == pytest.approx(0.1)
    assert s.factor(500) == pytest.approx(0.1)


def test_step_and_plateau():
    s = LRSchedule(TrainerConfig(lr=1.0, schedule="step", lr_step_size=10, lr_gamma=0.5), 100)
    assert (s.factor(9), s.factor(10), s.factor(25)) == (1.0, 0.5, 0.25)
    p = LRSchedule(TrainerConfig(lr=1.0, schedule="plateau", plateau_patience=1, lr_gamma=0.1), 1)
    reduced = [p.on_metric(v) for v in (1.0, 0.5, 0.6, 0.7, 0.8)]
    assert reduced == [False, False, False, True, False]
    assert p.factor(0) == pytest.approx(0.1)
    q = LRSchedule(p.config, 1)
    q.load_state_dict(p.state_dict())
    assert q.factor(0) == p.factor(0) and not math.isnan(q.factor(3))
