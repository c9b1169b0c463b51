"""SequenceClassifier: config round trip, masking, attention weights, and learning."""

import pytest
import torch

from rnnkit.data import pad_collate
from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.training import Trainer, TrainerConfig, seed_everything

SMALL = dict(hidden_size=8, conv_channels=(8, 8), conv_kernels=(5, 3))


def _model(**kw) -> SequenceClassifier:
    return SequenceClassifier(SequenceClassifierConfig(**{**dict(input_size=2, num_classes=3),
                                                          **SMALL, **kw})).eval()


@pytest.mark.parametrize("conv,layout,pooling,bi,ds", [
    (False, "parallel", "last", False, 1), (False, "parallel", "last", True, 1),
    (True, "parallel", "mean", False, 1), (True, "serial", "max", True, 1),
    (True, "parallel", "attention", False, 1), (False, "serial", "attention", True, 1),
    (True, "serial", "attention", False, 3), (True, "parallel", "mean", True, 2),
], ids=["rnn-last", "birnn-last", "fcn-par-mean", "fcn-ser-max-bi", "fcn-attn", "biattn",
        "cnn-rnn-attn-down3", "fcn-par-bi-down2"])
def test_padding_values_and_extra_padding_do_not_change_logits(conv, layout, pooling, bi, ds):
    torch.manual_seed(0)
    m = _model(conv=conv, conv_layout=layout, pooling=pooling, bidirectional=bi, znorm=True,
               downsample=ds, augment=True)  # augmentation is off in eval()
    x = torch.randn(3, 9, 2)
    lengths = torch.tensor([9, 5, 2])
    ref = m(x, lengths)
    z = torch.randn(3, 14, 2) * 50
    for b, n in enumerate(lengths.tolist()):
        z[b, :n] = x[b, :n]
    torch.testing.assert_close(m(z, lengths), ref, atol=1e-5, rtol=1e-5)
    alone = torch.cat([m(x[b : b + 1, :n], torch.tensor([n])) for b, n in
                       enumerate(lengths.tolist())])
    torch.testing.assert_close(alone, ref, atol=1e-5, rtol=1e-5)


def test_attention_weights_are_a_distribution_over_valid_steps():
    m = _model(pooling="attention")
    logits, alpha = m.forward_with_attention(torch.randn(3, 7, 2), torch.tensor([7, 4, 1]))
    assert logits.shape == (3, 3) and alpha.shape == (3, 7)
    torch.testing.assert_close(alpha.sum(1), torch.ones(3))
    assert alpha[1, 4:].abs().max() == 0 and alpha[2, 1:].abs().max() == 0


def test_config_round_trip_and_validation():
    cfg = SequenceClassifierConfig(input_size=6, num_classes=4, model="mingru", pooling="max")
    assert SequenceClassifierConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="num_classes >= 2"):
        SequenceClassifierConfig(input_size=1, num_classes=1)
    with pytest.raises(ValueError, match="pooling in"):
        SequenceClassifierConfig(input_size=1, num_classes=2, pooling="sum")
    with pytest.raises(ValueError, match=r"expected x of shape \(B, T, 2\)"):
        _model()(torch.randn(2, 5, 3))


def _toy(n: int, seed: int, task: str = "position"):
    """``position``: class = which half of the sequence holds a bump (needs order in time);
    ``sign``: class = the sign of a bump at a random place."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 20, 1, generator=g) * 0.3
    for i in range(n):
        start = int(torch.randint(0, 7 if task == "position" else 17, (1,), generator=g))
        start += 10 if y[i] and task == "position" else 0
        x[i, start : start + 3, 0] += 2.0 if task == "position" or y[i] else -2.0
    return [(x[i], y[i]) for i in range(n)], y


# One min-RNN layer has gates that read x_t only, so it cannot tell *when* a bump came (the
# position task); it learns the sign task, which still needs the whole sequence.
@pytest.mark.parametrize("kind,pooling,task", [
    ("lstm", "mean", "position"), ("gru", "attention", "position"),
    ("minlstm", "max", "sign"), ("mingru", "mean", "sign")])
def test_learns_a_tiny_problem_better_than_the_majority(kind, pooling, task):
    seed_everything(0)
    train, _ = _toy(64, 0, task)
    test, y_test = _toy(64, 1, task)
    m = SequenceClassifier(SequenceClassifierConfig(input_size=1, num_classes=2, model=kind,
                                                    pooling=pooling, **SMALL))
    trainer = Trainer(TrainerConfig(epochs=15, batch_size=16, lr=1e-2, progress="none"),
                      collate_fn=pad_collate)
    trainer.fit(m, train)
    acc = (trainer.predict(m, test).argmax(1) == y_test).float().mean().item()
    majority = max(y_test.float().mean().item(), 1 - y_test.float().mean().item())
    assert acc > max(majority, 0.8)


def test_downsample_averages_windows_of_valid_steps():
    from rnnkit.models.sequence_classifier import _downsample

    x = torch.arange(7.0).view(1, 7, 1).repeat(2, 1, 1)
    y, lengths = _downsample(x, torch.tensor([7, 4]), 3)
    assert lengths.tolist() == [3, 2]
    torch.testing.assert_close(y[0, :, 0], torch.tensor([1.0, 4.0, 6.0]))
    torch.testing.assert_close(y[1, :2, 0], torch.tensor([1.0, 3.0]))  # window 2: step 3 only


def test_augmentation_changes_training_outputs_only():
    m = _model(augment=True, znorm=True, dropout=0.0)
    x, lengths = torch.randn(4, 9, 2), torch.tensor([9, 9, 6, 3])
    torch.testing.assert_close(m(x, lengths), m(x, lengths))  # eval: deterministic
    m.train()
    torch.manual_seed(0)
    a = m(x, lengths)
    torch.manual_seed(1)
    assert not torch.allclose(a, m(x, lengths))
    m2 = _model(augment=False, znorm=True, dropout=0.0).train()
    torch.testing.assert_close(m2(x, lengths), m2(x, lengths))  # no augmentation: same
