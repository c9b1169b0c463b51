"""Built-in datasets load offline with the documented shapes; unknown names get suggestions."""

import shutil

import numpy as np
import pytest

from rnnkit.data import (
    MissingDependencyError,
    SequenceClassData,
    SeriesData,
    TextClassData,
    builtin,
    dataset_names,
    format_datasets,
    get_dataset_info,
    list_datasets,
    load_dataset,
)


def test_airline():
    s = load_dataset("AIRLINE")
    assert isinstance(s, SeriesData)
    assert len(s) == 144 and s.season == 12 and s.target.shape == (144, 1)
    assert s.y[0] == 112 and s.y[-1] == 432
    assert s.time_index[0] == np.datetime64("1949-01-01")


def test_sunspots_and_elecdemand():
    sun = load_dataset("sunspots")
    assert len(sun) == 309 and sun.time_index[0] == 1700
    e = load_dataset("elecdemand")
    assert e.values.shape == (17520, 3) and e.season == 48
    assert e.target_cols == ("Demand",) and e.future.shape == (17520, 2)


@pytest.mark.parametrize("name,n_train,n_test,channels,length,n_classes", [
    ("ItalyPowerDemand", 67, 1029, 1, 24, 2),
    ("GunPoint", 50, 150, 1, 150, 2),
    ("BasicMotions", 40, 40, 6, 100, 4),
], ids=["italy", "gunpoint", "basicmotions"])
def test_ucr(name, n_train, n_test, channels, length, n_classes):
    d = load_dataset(name.lower())
    assert isinstance(d, SequenceClassData)
    assert d.X_train.shape == (n_train, length, channels)
    assert d.X_test.shape == (n_test, length, channels)
    assert d.n_classes == n_classes and d.equal_length
    assert set(np.unique(d.y_train)) == set(range(n_classes))


def test_finefoods():
    d = load_dataset("finefoods")
    assert isinstance(d, TextClassData)
    assert (len(d.texts_train), len(d.texts_test)) == (4000, 1000)
    assert d.classes == ("great", "other")
    assert int((d.y_train == 0).sum()) == 2600


@pytest.mark.skipif(shutil.which("bible") is None,
                    reason="needs the 'bible' program: apt-get install bible-kjv bible-kjv-text")
def test_kjv(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    builtin._kjv_text.cache_clear()
    c = load_dataset("kjv")
    assert len(c) == 4_298_239 and len(set(c.text)) == 73
    assert (tmp_path / "kjv.txt").is_file()  # cached atomically for next time
    train, valid, test = c.split()
    assert train + valid + test == c.text and abs(len(test) - 429_824) <= 1
    builtin._kjv_text.cache_clear()


def test_kjv_missing_program(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(builtin.shutil, "which", lambda name: None)
    builtin._kjv_text.cache_clear()
    with pytest.raises(MissingDependencyError, match="apt-get install bible-kjv bible-kjv-text"):
        load_dataset("kjv")
    builtin._kjv_text.cache_clear()


def test_missing_ucr_package(monkeypatch):
    monkeypatch.delenv("RNNKIT_UCR_DIR", raising=False)
    monkeypatch.setattr(builtin, "find_package_dir", lambda pkg: None)
    with pytest.raises(MissingDependencyError, match=r"pip install --no-deps sktime==1\.2\.0"):
        load_dataset("GunPoint")


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match=r"unknown dataset 'airlin'\. Did you mean 'airline'\? "
                                         r"Run 'rnnkit datasets' to list them\."):
        load_dataset("airlin")
    with pytest.raises(ValueError, match="Did you mean 'GunPoint'"):
        get_dataset_info("gunpont")
    with pytest.raises(ValueError, match=r"^unknown dataset 'zzz'\. Run"):
        load_dataset("zzz")


def test_list_datasets():
    rows = list_datasets()
    assert [r["name"] for r in rows] == dataset_names()
    assert {"airline", "GunPoint", "finefoods", "kjv"} <= set(dataset_names())
    assert all(r["licence"] and r["source"] and r["install"] for r in rows)
    assert [r["name"] for r in list_datasets("language-modeling")] == ["kjv"]
    assert "ItalyPowerDemand" in format_datasets()
    with pytest.raises(ValueError, match="expected task in"):
        list_datasets("vision")
