"""``rnnkit`` command line: thin — parse, build configs, call the task pipelines.

    rnnkit train {forecast|classify|lm|seq2seq|tag} --data NAME_OR_PATH [flags]
    rnnkit train TASK --resume DIR    rnnkit resume DIR [--epochs N] [--time-budget S]
    rnnkit evaluate DIR --data …      rnnkit predict DIR --data …
    rnnkit forecast DIR --data FILE.csv --horizon H
    rnnkit generate DIR --prime TEXT --length N --temperature T --seed S
    rnnkit explain DIR --data … --index N   (attention heatmap / saliency PNG + JSON)
    rnnkit export DIR [--format onnx|pt2]   (predict / forecast … --runtime onnxruntime)
    rnnkit datasets                   rnnkit bench [engine|parallel] …
    rnnkit demo                       (= rnnkit train forecast --data airline)
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import sys
import traceback
import warnings

from rnnkit.cli import commands
from rnnkit.kernels.allocator import retain_freed_memory

__all__ = ["build_parser", "main"]

_PER_TASK = "default: chosen per task and data size; the value used is saved in DIR/run.json"


def _add_common_train_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data, model and training (any of these may also come from --config)")
    g.add_argument("--data", help="built-in dataset name (see 'rnnkit datasets') or a file path "
                   "(default: the task's built-in set)")
    g.add_argument("--test-data", help="a separate test file with the same columns / layout "
                   "(default: the task's standard split of --data)")
    g.add_argument("--model", help="lstm | gru | rnn | mingru | minlstm (default lstm)")
    g.add_argument("--config", help="TOML file holding any of these settings (flags win; "
                   "default: none)")
    g.add_argument("--epochs", type=int, help=f"passes over the training data ({_PER_TASK})")
    g.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop training after this many seconds (default: none, lm 600)")
    g.add_argument("--out", metavar="DIR", help="run directory, new or empty (default "
                   "runs/<task>-<data>)")
    g.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an earlier run in --out (default: refuse)")
    g.add_argument("--resume", metavar="DIR", help="continue the run in DIR with its own "
                   "settings from its latest complete checkpoint (only --epochs / "
                   "--time-budget / --device / --quiet may change; default: a new run)")
    g.add_argument("--seed", type=int, help="random seed (default 0): runs are reproducible")
    g.add_argument("--quiet", action="store_true", default=None,
                   help="no progress bars (default: bars on stderr)")
    g.add_argument("--batch-size", type=int, help=f"examples per batch ({_PER_TASK})")
    g.add_argument("--lr", type=float, help=f"learning rate ({_PER_TASK})")
    g.add_argument("--hidden-size", type=int, help=f"units per recurrent layer ({_PER_TASK})")
    g.add_argument("--num-layers", type=int, help=f"stacked recurrent layers ({_PER_TASK})")
    g.add_argument("--dropout", type=float, help=f"dropout between layers ({_PER_TASK})")
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None,
                   help="read sequences both ways (default: per task; never for lm)")
    g.add_argument("--layer-norm", action=argparse.BooleanOptionalAction, default=None,
                   help="layer-normalised cells (default: off)")
    g.add_argument("--precision", choices=["fp32", "bf16", "fp16"],
                   help="training precision (default fp32; fp16 needs CUDA)")
    g.add_argument("--device", help="auto | cpu | cuda | cuda:N (default auto: CUDA if present)")


def _add_runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=["torch", "onnxruntime"], default=None,
                   help="torch, or onnxruntime on DIR/export/model.onnx from 'rnnkit export "
                   "DIR' (default torch)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks: "
                                     "train, evaluate and use them on real data.")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks for errors (default: one line; RNNKIT_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser("train", help="train a model for a task")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    from rnnkit.tasks import TASK_MODULES

    for task in TASK_MODULES:
        tp = tasks.add_parser(task, help=commands.TASK_HELP[task],
                              epilog=commands.TASK_LAYOUTS.get(task),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_common_train_flags(tp)
        tg = tp.add_argument_group(f"{task} settings")
        commands.add_task_arguments(task, tg)

    for name, helptext in (("evaluate", "score a trained run on data"),
                           ("predict", "predictions of a trained run as CSV")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("run_dir", metavar="DIR")
        p.add_argument("--data", help="dataset name or file (default: the run's test data)")
        p.add_argument("--test-data", help="a test file with the training columns (default: "
                       "the run's test split)")
        p.add_argument("--output", "-o", help="where to write (default DIR/predictions.csv)")
        p.add_argument("--input", help="a single input text (text runs; default: none)")
        p.add_argument("--beam-width", type=int, default=None,
                       help="seq2seq: beam width (1 = greedy; default: the run's)")
        if name == "predict":
            _add_runtime(p)
        if name == "evaluate":
            from rnnkit.tasks.lm import add_dynamic_arguments

            add_dynamic_arguments(p.add_argument_group("language models"), "--dynamic",
                                  "--dynamic-eval")

    p = sub.add_parser("forecast", help="forecast the future of a series with a trained run")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--data", required=True, help="CSV with the history (same columns; "
                   "required, no default)")
    p.add_argument("--horizon", type=int, help="steps ahead (default: the run's horizon)")
    p.add_argument("--output", "-o", help="CSV to write (default: print)")
    _add_runtime(p)

    p = sub.add_parser("export", help="export a trained run's model (ONNX / torch.export) with "
                       "its preprocessing metadata, into DIR/export/")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--format", choices=["onnx", "pt2"], default="onnx",
                   help="onnx (for onnxruntime) or pt2 (torch.export; default onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export "
                   "(default: refuse)")

    p = sub.add_parser("generate", help="generate text with a trained language model")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--prime", default="", help="text to start from (default: a new line)")
    p.add_argument("--length", type=int, default=300,
                   help="characters/tokens to generate (default 300)")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="sampling temperature; lower is more conservative (default 0.8)")
    p.add_argument("--top-k", type=int, default=None,
                   help="sample among the k most likely tokens (default: all)")
    p.add_argument("--top-p", type=float, default=None,
                   help="nucleus sampling: the smallest set with probability p (default: off)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed of the sampling (default: a fresh one each time)")
    _add_runtime(p)

    p = sub.add_parser("explain", help="attention maps / saliency of one example, as PNG + JSON")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--data", help="dataset name or file (default: the run's test data)")
    p.add_argument("--index", type=int, default=0, help="which example (0-based, default 0)")
    p.add_argument("--output", "-o", help="folder for the files (default DIR/explain)")
    p.add_argument("--beam-width", type=int, default=None,
                   help="seq2seq: beam width (default: the run's)")
    p.add_argument("--method", choices=["gradient_x_input", "integrated_gradients"],
                   default=None, help="saliency method (default integrated_gradients)")

    p = sub.add_parser("resume", help="continue an interrupted run from its latest checkpoint")
    p.add_argument("resume", metavar="DIR", help="the run directory (--out of 'rnnkit train')")
    p.add_argument("--epochs", type=int, help="train to this many epochs in all (default: the "
                   "run's)")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="a new time budget for this session (default: the run's)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: the run's)")
    p.add_argument("--quiet", action="store_true", default=None,
                   help="no progress bars (default: bars on stderr)")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="a run whose training keeps no checkpoints (many-series forecast, "
                   "classify --cv-folds): train it again from the beginning with its settings "
                   "(default: refuse)")

    p = sub.add_parser("datasets", help="list the built-in datasets and whether each is usable "
                       "now")
    p.add_argument("--task", help="only this task's datasets (default: all)")
    p.add_argument("--install", metavar="NAME", help="download NAME's data now (default: list)")

    p = sub.add_parser("bench", help="benchmark the engine against torch.nn (and Keras)",
                       add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER)

    sub.add_parser("demo", help="the main job: rnnkit train forecast --data airline")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    retain_freed_memory()  # this process is ours: reuse freed buffers (kernels/allocator.py)
    parser = build_parser()
    if argv[:1] == ["bench"]:  # hand everything after 'bench' to the benchmark's own parser
        # (argparse's REMAINDER would not take a leading option such as --help or --quick)
        args = argparse.Namespace(command="bench", bench_args=argv[1:], debug=False)
    else:
        args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("RNNKIT_DEBUG") == "1"
    warnings.showwarning = _one_line_warning
    sys.stdout, sys.stderr = _PipeSafe.wrap(sys.stdout), _PipeSafe.wrap(sys.stderr)
    try:
        return int(commands.run(args) or 0)
    except KeyboardInterrupt:
        run_dir = commands.last_session().get("out")
        hint = (f"; continue with 'rnnkit resume {run_dir}'"
                if commands.last_session().get("resumable") else "")
        print(f"rnnkit: interrupted{hint}", file=sys.stderr)
        return 130
    except Exception as e:
        if not (isinstance(e, commands.USER_ERROR_TYPES) or commands.is_user_error(e)):
            raise  # a bug: the traceback is what a maintainer needs
        if debug:
            traceback.print_exc()
        print(f"rnnkit: error: {_message(e)}", file=sys.stderr)
        return 2
    finally:
        _PipeSafe.close(sys.stdout)


def _message(e: BaseException) -> str:
    """The one line for a user error; OSErrors are worded with their path and a fix."""
    if isinstance(e, OSError) and e.errno is not None:
        where = e.filename or "rnnkit"
        fix = {errno.ENOSPC: "Free some space or choose another --out",
               errno.EDQUOT: "Free some space or choose another --out",
               errno.EACCES: "Check its permissions or choose another --out",
               errno.EPERM: "Check its permissions or choose another --out",
               errno.EROFS: "The disk is read-only; choose another --out",
               errno.ENOENT: "Check the path"}.get(e.errno, "Check the path and the disk")
        return f"{where}: {e.strerror or os.strerror(e.errno)}. {fix}."
    msg = str(e).strip().strip("'\"") or type(e).__name__
    return " ".join(msg.split("\n")[0].split()) if isinstance(e, OSError) else msg


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"rnnkit: warning: {message}", file=sys.stderr)


class _PipeSafe(io.TextIOBase):
    """stdout / stderr that go quiet once the reader has gone (``rnnkit train … | head``):
    the run keeps going and finishes writing its files instead of dying on BrokenPipeError."""

    def __init__(self, stream) -> None:
        self._s, self.broken = stream, False

    @classmethod
    def wrap(cls, stream):
        return stream if isinstance(stream, cls) or stream is None else cls(stream)

    @staticmethod
    def close(stream) -> None:
        if isinstance(stream, _PipeSafe):
            stream.flush()

    def _gone(self) -> None:
        self.broken = True
        try:  # point the descriptor at /dev/null so the interpreter's final flush is silent
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._s.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass

    def write(self, s: str) -> int:
        if not self.broken:
            try:
                self._s.write(s)
            except BrokenPipeError:
                self._gone()
        return len(s)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._s.flush()
            except BrokenPipeError:
                self._gone()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._s.isatty()

    def fileno(self) -> int:
        return self._s.fileno()

    @property
    def encoding(self):
        return getattr(self._s, "encoding", "utf-8")
