"""Forecaster: config round-trip and validation, shapes in both modes, interval ordering,
ensembles, and the state-dict round-trip through the config."""

import pytest
import torch

from rnnkit.models.forecaster import Forecaster, ForecasterConfig


def _cfg(**kw):
    base = dict(n_targets=2, lookback=8, horizon=5, n_covariates=1, n_future=2, hidden_size=6)
    return ForecasterConfig(**{**base, **kw})


def _inputs(cfg, b=3, steps=None):
    c = cfg.n_targets + cfg.n_covariates + cfg.n_future
    return torch.randn(b, cfg.lookback, c), torch.randn(b, steps or cfg.horizon, cfg.n_future)


def test_config_round_trip():
    cfg = _cfg(loss="quantile", quantiles=(0.05, 0.5, 0.95), ensemble=2, kind="gru")
    assert ForecasterConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad", [dict(horizon=0), dict(mode="seq"), dict(loss="mae"),
                                 dict(kind="transformer"), dict(quantiles=(0.1, 0.9)),
                                 dict(level=1.0), dict(ensemble=0), dict(norm="max")],
                         ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="ForecasterConfig: expected"):
        _cfg(**bad)


@pytest.mark.parametrize("kind", ["lstm", "gru", "mingru", "minlstm"])
@pytest.mark.parametrize("loss", ["mse", "gaussian", "quantile"])
def test_direct_and_recursive_shapes_and_interval_order(kind, loss):
    outs = {}
    for mode in ("direct", "recursive"):
        cfg = _cfg(kind=kind, loss=loss, mode=mode, ensemble=2)
        model = Forecaster(cfg).eval()
        x, xf = _inputs(cfg)
        outs[mode] = model.forecast(x, xf, steps=cfg.horizon)
        for v in outs[mode].values():
            assert v.shape == (3, cfg.horizon, cfg.n_targets)
        o = outs[mode]
        assert (o["lower"] <= o["point"] + 1e-6).all() and (o["point"] <= o["upper"] + 1e-6).all()
    assert outs["direct"]["point"].shape == outs["recursive"]["point"].shape


def test_forecast_beyond_the_trained_horizon_feeds_back():
    cfg = _cfg()
    model = Forecaster(cfg).eval()
    x, xf = _inputs(cfg, steps=12)
    out = model.forecast(x, xf, steps=12)
    assert out["point"].shape == (3, 12, 2)
    # the first block is the plain direct forecast
    assert torch.allclose(out["point"][:, :5], model(x, xf[:, :5])[..., 0])


def test_bad_input_shape_is_a_clear_error():
    model = Forecaster(_cfg())
    with pytest.raises(ValueError, match=r"expected x of shape \(B, 8, 5\)"):
        model(torch.randn(2, 8, 3), torch.randn(2, 5, 2))


def test_training_step_and_state_dict_round_trip_through_config():
    cfg = _cfg(loss="gaussian", ensemble=3)
    model = Forecaster(cfg)
    x, xf = _inputs(cfg)
    loss, _ = model.training_step((x, xf, torch.randn(3, 5, 2)))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    clone = Forecaster(ForecasterConfig.from_dict(cfg.to_dict()))
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    assert torch.equal(model(x, xf), clone(x, xf))


def test_instance_normalisation_makes_the_forecast_shift_equivariant():
    cfg = _cfg(n_covariates=0, n_future=0, n_targets=1)
    model = Forecaster(cfg).eval()
    x, xf = _inputs(cfg)
    a = model.forecast(x, xf)["point"]
    b = model.forecast(x + 7.0, xf)["point"]
    assert torch.allclose(a + 7.0, b, atol=1e-4)
