import math

import pytest
import torch
from torch import nn
from training_helpers import TinyGRU, ragged_dataset

from rnnkit.data.collate import pad_collate
from rnnkit.training import (
    Callback,
    NonFiniteError,
    Trainer,
    TrainerConfig,
    load_weights,
    seed_everything,
)

QUIET = {"progress": "none"}


def regression_data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    return list(zip(x, (x @ torch.arange(1.0, 6.0)).unsqueeze(-1) * 0.2))


def mlp():
    seed_everything(0)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))


def flat_params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_loss_decreases_on_synthetic_task():
    model = mlp()
    cfg = TrainerConfig(epochs=8, batch_size=16, lr=1e-2, **QUIET)
    hist = Trainer(cfg).fit(model, regression_data(), regression_data(32, 1),
                            loss_fn=nn.functional.mse_loss)
    assert len(hist) == 8
    assert hist[-1]["loss"] < 0.2 * hist[0]["loss"]
    assert hist[-1]["val_loss"] < 0.3 * hist[0]["val_loss"]


def test_sequence_model_protocol_with_logs_learns():
    seed_everything(0)
    model = TinyGRU()
    cfg = TrainerConfig(epochs=10, batch_size=8, lr=3e-2, **QUIET)
    trainer = Trainer(cfg, collate_fn=pad_collate)
    hist = trainer.fit(model, ragged_dataset(32), ragged_dataset(8, seed=2))
    assert {"loss", "mae", "val_loss", "val_mae", "grad_norm", "lr"} <= set(hist[-1])
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]


class NormProbe(Callback):
    def __init__(self):
        self.clipped, self.logged = [], []

    def on_before_optimizer_step(self, trainer):
        grads = [p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None]
        self.clipped.append(float(torch.cat(grads).norm()))
        self.logged.append(trainer.last_grad_norm)


def test_clip_by_norm_bounds_the_gradient_and_logs_the_raw_norm():
    probe = NormProbe()
    cfg = TrainerConfig(epochs=2, batch_size=8, lr=1e-2, clip_grad_norm=0.05, **QUIET)
    Trainer(cfg, callbacks=[probe]).fit(mlp(), regression_data(), loss_fn=nn.functional.mse_loss)
    assert len(probe.clipped) == 16
    assert max(probe.clipped) <= 0.05 * (1 + 1e-5)
    assert min(probe.logged) > 0.05  # raw norms were above the limit, so clipping did act


def test_clip_by_value():
    class ValueProbe(Callback):
        def on_before_optimizer_step(self, trainer):
            self.max = max(float(p.grad.abs().max()) for p in trainer.model.parameters())

    probe = ValueProbe()
    cfg = TrainerConfig(epochs=1, batch_size=8, clip_grad_value=1e-3, **QUIET)
    Trainer(cfg, callbacks=[probe]).fit(mlp(), regression_data(16), loss_fn=nn.functional.mse_loss)
    assert probe.max <= 1e-3 * (1 + 1e-6)


def test_gradient_accumulation_equals_larger_batch():
    data = regression_data(32)
    base = dict(epochs=2, optimizer="sgd", lr=0.05, shuffle=False, **QUIET)
    a, b = mlp(), mlp()
    Trainer(TrainerConfig(batch_size=16, **base)).fit(a, data, loss_fn=nn.functional.mse_loss)
    t = Trainer(TrainerConfig(batch_size=8, accumulate_grad_batches=2, **base))
    t.fit(b, data, loss_fn=nn.functional.mse_loss)
    assert t.global_step == 4
    torch.testing.assert_close(flat_params(a), flat_params(b), rtol=0, atol=1e-6)


def test_same_seed_same_weights_different_seed_different():
    def run(seed):
        m = mlp()
        Trainer(TrainerConfig(epochs=2, batch_size=8, seed=seed, **QUIET)).fit(
            m, regression_data(), loss_fn=nn.functional.mse_loss)
        return flat_params(m)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            self_events = object.__getattribute__(self, "events")
            return lambda *a: self_events.append(name)
        return object.__getattribute__(self, name)


def test_callback_order():
    rec = Recorder()
    cfg = TrainerConfig(epochs=2, batch_size=8, **QUIET)
    Trainer(cfg, callbacks=[rec]).fit(mlp(), regression_data(16), regression_data(8),
                                      loss_fn=nn.functional.mse_loss)
    batch = ["on_train_batch_start", "on_before_optimizer_step", "on_train_batch_end"]
    epoch = ["on_epoch_start", *batch, *batch, "on_epoch_end"]
    assert rec.events == ["on_fit_start", *epoch, *epoch, "on_fit_end"]


def test_early_stopping_and_max_steps():
    cfg = TrainerConfig(epochs=50, batch_size=8, lr=1e-9, early_stopping_patience=2,
                        early_stopping_min_delta=1.0, **QUIET)
    t = Trainer(cfg)
    hist = t.fit(mlp(), regression_data(16), regression_data(8), loss_fn=nn.functional.mse_loss)
    assert len(hist) == 3 and t.should_stop and "early stopping" in t.stop_reason
    t = Trainer(TrainerConfig(epochs=50, batch_size=8, max_steps=5, **QUIET))
    hist = t.fit(mlp(), regression_data(16), loss_fn=nn.functional.mse_loss)
    assert t.global_step == 5 and len(hist) == 3


def test_nonfinite_steps_are_skipped_then_training_stops(tmp_path):
    poison = {"on": False}

    class PoisonAfterFirstEpoch(Callback):
        def on_epoch_end(self, trainer, logs):
            poison["on"] = True

    def loss_fn(pred, y):
        loss = nn.functional.mse_loss(pred, y)
        return loss * float("nan") if poison["on"] else loss

    cfg = TrainerConfig(epochs=3, batch_size=8, max_nonfinite_steps=3,
                        checkpoint_dir=str(tmp_path), **QUIET)
    t = Trainer(cfg, callbacks=[PoisonAfterFirstEpoch()])
    model = mlp()
    with pytest.raises(NonFiniteError, match="3 consecutive steps had a non-finite") as e:
        t.fit(model, regression_data(32), loss_fn=loss_fn)
    assert str(tmp_path / "epoch0001-batch000000") in str(e.value)
    assert t.global_step == 4 and t.skipped_steps == 3
    assert torch.isfinite(flat_params(model)).all()
    assert (tmp_path / "latest").read_text().strip() == "epoch0001-batch000000"
    saved = mlp()
    load_weights(saved, tmp_path)
    assert torch.equal(flat_params(saved), flat_params(model))


def test_one_nonfinite_step_is_skipped_and_reported(caplog):
    data = regression_data(32)
    data[9] = (data[9][0] * float("inf"), data[9][1])
    t = Trainer(TrainerConfig(epochs=1, batch_size=8, shuffle=False, **QUIET))
    hist = t.fit(mlp(), data, loss_fn=nn.functional.mse_loss)
    assert t.skipped_steps == 1 and t.global_step == 3 and hist[0]["skipped_steps"] == 1
    assert math.isfinite(hist[0]["loss"])
    assert "non-finite" in caplog.text


def test_evaluate_and_predict():
    model, data = mlp(), regression_data(20)
    t = Trainer(TrainerConfig(batch_size=6, **QUIET))
    m = t.evaluate(model, data, loss_fn=nn.functional.mse_loss,
                   metrics={"mae": lambda p, y: (p - y).abs().mean()})
    x = torch.stack([a for a, _ in data])
    y = torch.stack([b for _, b in data])
    with torch.no_grad():
        expected = float(nn.functional.mse_loss(model(x), y))
        assert m["loss"] == pytest.approx(expected, rel=1e-6)
        assert m["mae"] == pytest.approx(float((model(x) - y).abs().mean()), rel=1e-6)
        torch.testing.assert_close(t.predict(model, data), model(x))


def test_predict_pads_ragged_outputs():
    seed_everything(0)
    model = TinyGRU()
    data = [torch.randn(5, 2), torch.randn(3, 2), torch.randn(3, 2)]
    out = Trainer(TrainerConfig(batch_size=1, **QUIET)).predict(model, data)
    assert out.shape == (3, 5, 1) and out[1, 3:].abs().sum() == 0


def test_missing_loss_fn_is_a_clear_error():
    with pytest.raises(TypeError, match="pass loss_fn="):
        Trainer(TrainerConfig(**QUIET)).fit(mlp(), regression_data(8))


def test_bf16_autocast_on_cpu_trains():
    cfg = TrainerConfig(epochs=3, batch_size=16, lr=1e-2, precision="bf16", **QUIET)
    hist = Trainer(cfg).fit(mlp(), regression_data(), loss_fn=nn.functional.mse_loss)
    assert hist[-1]["loss"] < hist[0]["loss"]
    with pytest.raises(ValueError, match="fp16' needs a CUDA device"):
        Trainer(TrainerConfig(precision="fp16", device="cpu", **QUIET)).fit(
            mlp(), regression_data(8), loss_fn=nn.functional.mse_loss)


def test_time_budget_stops_training():
    import time

    from rnnkit.training import Trainer, TrainerConfig

    class Slow(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch):
            time.sleep(0.02)
            return (self.w - 1.0).pow(2).sum()

    data = [torch.zeros(1) for _ in range(1000)]
    trainer = Trainer(TrainerConfig(epochs=100, batch_size=1, time_budget=0.3, progress="none"))
    t0 = time.perf_counter()
    trainer.fit(Slow(), data)
    assert time.perf_counter() - t0 < 5.0
    assert 0 < trainer.global_step < 1000
    assert "time budget" in trainer.stop_reason
