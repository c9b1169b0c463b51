"""The classify task's typed settings (issue 19): a wrong type, range or choice is a UsageError
naming the flag, raised by ``classify.train`` before any data is read or any file written."""

import dataclasses

import pytest

from rnnkit.tasks import classify
from rnnkit.tasks.classify_settings import ClassifySettings
from rnnkit.tasks.common import COMMON_DEFAULTS
from rnnkit.tasks.errors import UsageError

BAD = [({"pooling": "median"}, "--pooling"), ({"conv_layout": "diagonal"}, "--conv-layout"),
       ({"tokenizer": "bpe"}, "--tokenizer"), ({"max_len": 0}, "--max-len"),
       ({"vocab_size": 2}, "--vocab-size"), ({"min_freq": 0}, "--min-freq"),
       ({"word_dropout": 1.0}, "--word-dropout"), ({"bow_dropout": 2.0}, "--bow-dropout"),
       ({"label_smoothing": -0.1}, "--label-smoothing"), ({"val_frac": "x"}, "--val-frac"),
       ({"test_frac": 0.0}, "--test-frac"), ({"threads": 0}, "--threads"),
       ({"ensemble": 0}, "--ensemble"), ({"cv_folds": 1}, "--cv-folds"),
       ({"nb_weight": "half"}, "--nb-weight"),
       ({"pretrain_lr": "fast"}, "--pretrain-lr"), ({"conv": "yes"}, "--conv"),
       ({"patience": 2.5}, "--patience"), ({"epochs": 0}, "--epochs")]


def test_defaults_match_the_module_defaults():
    s = ClassifySettings.from_dict({**COMMON_DEFAULTS, **classify.DEFAULTS})
    d = s.to_dict()
    for k, v in classify.DEFAULTS.items():
        assert d[k] == v, k
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.cv_folds = 2


@pytest.mark.parametrize(("bad", "name"), BAD)
def test_a_bad_value_names_its_flag_before_anything_is_read(tmp_path, bad, name):
    out = tmp_path / "run"
    cfg = {**COMMON_DEFAULTS, **classify.DEFAULTS, "data": str(tmp_path / "absent.csv"),
           "out": str(out), **bad}
    with pytest.raises(UsageError, match=f"^{name}: expected"):  # not the missing file
        classify.train(cfg)
    assert not out.exists()
