import pytest

from rnnkit.training import TrainerConfig


def test_round_trip_dict():
    cfg = TrainerConfig(epochs=3, lr=3e-3, betas=(0.8, 0.99), schedule="cosine", tbptt_steps=5)
    d = cfg.to_dict()
    assert d["betas"] == [0.8, 0.99]
    assert TrainerConfig.from_dict(d) == cfg


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": -1}, "expected lr > 0, got -1. Pass a positive learning rate."),
        ({"epochs": 0}, "expected epochs >= 1"),
        ({"optimizer": "adagrad"}, "expected optimizer in"),
        ({"clip_grad_norm": 0.0}, "expected clip_grad_norm > 0 or None"),
        ({"stateful": True}, "stateful=True needs drop_last=True"),
        ({"tbptt_steps": 0}, "expected tbptt_steps >= 1"),
        ({"precision": "fp8"}, "expected precision in"),
        ({"nesterov": True}, "nesterov=True applies to optimizer='sgd' only"),
    ],
    ids=["neg-lr", "zero-epochs", "bad-opt", "zero-clip", "stateful-no-drop", "zero-tbptt",
         "bad-precision", "nesterov-adam"],
)
def test_invalid_values_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match="TrainerConfig: ") as e:
        TrainerConfig(**kwargs)
    assert message in str(e.value)


def test_unknown_key_and_frozen():
    with pytest.raises(ValueError, match="unknown field"):
        TrainerConfig.from_dict({"learning_rate": 1.0})
    cfg = TrainerConfig()
    with pytest.raises(AttributeError):
        cfg.lr = 2.0  # type: ignore[misc]
    assert cfg.replace(lr=0.5).lr == 0.5
    assert TrainerConfig(progress="none").quiet
