"""User-file loaders: forecasting CSV, classification CSV, text; each bad-input message."""

import numpy as np
import pytest

from rnnkit.data import (
    SequenceClassData,
    TextClassData,
    load_classification_csv,
    load_series_csv,
    load_text,
)


@pytest.fixture
def series_csv(tmp_path):
    p = tmp_path / "sales.csv"
    p.write_text("date,units,price,promo\n2020-01-01,10,1.5,0\n2020-02-01,12,1.4,1\n"
                 "2020-03-01,,1.4,0\n2020-04-01,16,1.3,1\n")
    return p


def test_series_csv_nan_message_and_fill(series_csv):
    with pytest.raises(ValueError, match=r"got NaN in column 'units' at row 2\. Pass fillna="):
        load_series_csv(series_csv, target="units")
    s = load_series_csv(series_csv, target="units", future_covariates=["promo"],
                        fillna="interpolate")
    assert s.columns == ("units", "price", "promo") and s.covariate_cols == ("price",)
    assert s.y.tolist() == [10, 12, 14, 16] and s.freq == "MS"
    assert s.time_index.dtype.kind == "M"
    assert load_series_csv(series_csv, "units", fillna="ffill").y[2] == 12
    assert load_series_csv(series_csv, "units", fillna="zero").y[2] == 0
    assert len(load_series_csv(series_csv, "units", fillna="drop")) == 3


def test_series_csv_errors(series_csv, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing path"):
        load_series_csv(tmp_path / "none.csv", target="x")
    with pytest.raises(ValueError, match=r"expected a target column among \['date', 'units'"):
        load_series_csv(series_csv, target="sales")
    with pytest.raises(ValueError, match="expected target=<column>"):
        load_series_csv(series_csv, fillna="zero")
    with pytest.raises(ValueError, match="expected fillna in"):
        load_series_csv(series_csv, "units", fillna="mean")
    bad = tmp_path / "bad.csv"
    bad.write_text("t,y\n1,1.0\n2,abc\n")
    with pytest.raises(ValueError, match=r"expected numeric values in column 'y', got 'abc' "
                                         r"at row 1"):
        load_series_csv(bad, target="y", time_col="t")


def test_classification_csv_text(tmp_path):
    p = tmp_path / "reviews.csv"
    rows = [f"review {i} {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}"
            for i in range(10)]
    p.write_text("text,label\n" + "\n".join(rows) + "\n")
    d = load_classification_csv(p, test_frac=0.3)
    assert isinstance(d, TextClassData) and d.classes == ("neg", "pos")
    assert (len(d.texts_train), len(d.texts_test)) == (7, 3)
    with pytest.raises(ValueError, match=r"expected a label column among \['text', 'label'\]"):
        load_classification_csv(p, label_col="y")
    p.write_text("text,label\nok,a\n ,b\n")
    with pytest.raises(ValueError, match="expected non-empty text in column 'text', got an "
                                         "empty value at row 1"):
        load_classification_csv(p, text_col="text", test_path=p)


def test_classification_csv_features(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("a,b,c,label\n1,2,3,x\n4,5,6,y\n")
    d = load_classification_csv(p, test_path=p)
    assert isinstance(d, SequenceClassData) and d.X_train.shape == (2, 3, 1)
    np.testing.assert_array_equal(d.X_test[1, :, 0], [4, 5, 6])
    p.write_text("a,b,label\n1,,x\n4,5,y\n")
    with pytest.raises(ValueError, match="got NaN in column 'b' at row 0"):
        load_classification_csv(p, test_path=p)


def test_load_text(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("héllo wörld\n", encoding="utf-8")
    assert load_text(p).text == "héllo wörld\n"
    p.write_text("  \n")
    with pytest.raises(ValueError, match="got an empty file"):
        load_text(p)
    p.write_bytes(b"abc\xff")
    with pytest.raises(ValueError, match="expected utf-8 text, got an undecodable byte at "
                                         "offset 3"):
        load_text(p)
    with pytest.raises(FileNotFoundError):
        load_text(tmp_path / "missing.txt")
