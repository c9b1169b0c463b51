"""The UCR/UEA .ts reader on small hand-written files."""

import numpy as np
import pytest

from rnnkit.data import load_ts_classification, read_ts

UNIVARIATE_VARLEN = """# a comment
@problemName Toy
@univariate true
@equalLength false
@classLabel true up down
@data
1,2,3:up
4,5:down
6,?,8,9:up
"""

MULTIVARIATE = """@problemName Multi
@univariate false
@dimensions 2
@classLabel true a b
@data
1,2,3:10,20,30:a
4,5,6:40,50,60:b
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_variable_length(tmp_path):
    f = read_ts(_write(tmp_path, "t.ts", UNIVARIATE_VARLEN))
    assert f.problem_name == "Toy" and f.class_labels == ("up", "down")
    assert f.labels == ["up", "down", "up"]
    assert [s.shape for s in f.series] == [(3, 1), (2, 1), (4, 1)]
    assert np.isnan(f.series[2][1, 0]) and f.series[2][3, 0] == 9


def test_load_variable_length_with_fill(tmp_path):
    p = _write(tmp_path, "t.ts", UNIVARIATE_VARLEN)
    with pytest.raises(ValueError, match=r"expected no missing values.*fillna="):
        load_ts_classification(p, p)
    d = load_ts_classification(p, p, fillna="interpolate")
    assert d.X_train.shape == (3, 4, 1) and d.lengths_train.tolist() == [3, 2, 4]
    assert d.X_train[2, 1, 0] == 7.0 and d.X_train[1, 2:, 0].tolist() == [0.0, 0.0]
    assert d.y_train.tolist() == [0, 1, 0] and not d.equal_length


def test_multivariate(tmp_path):
    p = _write(tmp_path, "m.ts", MULTIVARIATE)
    d = load_ts_classification(p, p)
    assert d.X_train.shape == (2, 3, 2)
    np.testing.assert_array_equal(d.X_train[1], [[4, 40], [5, 50], [6, 60]])
    assert d.classes == ("a", "b") and d.name == "Multi"


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing path"):
        read_ts(tmp_path / "nope.ts")
    with pytest.raises(ValueError, match="expected an '@data' line"):
        read_ts(_write(tmp_path, "h.ts", "@problemName X\n"))
    bad = MULTIVARIATE + "1,2,3:b\n"
    with pytest.raises(ValueError, match="expected 2 channels per case, got 1 at line 8"):
        read_ts(_write(tmp_path, "c.ts", bad))
    with pytest.raises(ValueError, match="expected numbers or '\\?'"):
        read_ts(_write(tmp_path, "n.ts", MULTIVARIATE.replace("20", "x")))
    unknown = MULTIVARIATE.replace("60:b", "60:c")
    with pytest.raises(ValueError, match=r"expected labels in \['a', 'b'\], got \['c'\]"):
        load_ts_classification(_write(tmp_path, "u.ts", unknown), tmp_path / "u.ts")
