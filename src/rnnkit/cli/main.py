"""``rnnkit`` command line: thin — parse, build configs, call the task pipelines.

    rnnkit train {forecast|classify|lm} --data NAME_OR_PATH [flags]
    rnnkit evaluate DIR --data …      rnnkit predict DIR --data …
    rnnkit forecast DIR --data FILE.csv --horizon H
    rnnkit generate DIR --prime TEXT --length N --temperature T --seed S
    rnnkit explain DIR --data … --index N   (attention heatmap / saliency PNG + JSON)
    rnnkit datasets                   rnnkit bench [engine|parallel] …
    rnnkit demo                       (= rnnkit train forecast --data airline)
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from rnnkit.cli import commands
from rnnkit.kernels.allocator import retain_freed_memory

__all__ = ["build_parser", "main"]

def _add_common_train_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data, model and training (any of these may also come from --config)")
    g.add_argument("--data", help="built-in dataset name (see 'rnnkit datasets') or a file path")
    g.add_argument("--test-data", help="a separate test file (else the task's standard split)")
    g.add_argument("--model", help="lstm | gru | rnn | mingru | minlstm (default lstm)")
    g.add_argument("--config", help="TOML file holding any of these settings (flags win)")
    g.add_argument("--epochs", type=int, help="passes over the training data")
    g.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop training after this many seconds")
    g.add_argument("--out", metavar="DIR", help="run directory (default runs/<task>-<data>)")
    g.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its checkpoint")
    g.add_argument("--seed", type=int, help="random seed (default 0): runs are reproducible")
    g.add_argument("--quiet", action="store_true", default=None, help="no progress bars")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--hidden-size", type=int)
    g.add_argument("--num-layers", type=int)
    g.add_argument("--dropout", type=float)
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--layer-norm", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--precision", choices=["fp32", "bf16", "fp16"])
    g.add_argument("--device", help="auto | cpu | cuda | cuda:N")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks: "
                                     "train, evaluate and use them on real data.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser("train", help="train a model for a task")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    from rnnkit.tasks import TASK_MODULES

    for task in TASK_MODULES:
        tp = tasks.add_parser(task, help=commands.TASK_HELP[task])
        _add_common_train_flags(tp)
        tg = tp.add_argument_group(f"{task} settings")
        commands.add_task_arguments(task, tg)

    for name, helptext in (("evaluate", "score a trained run on data"),
                           ("predict", "predictions of a trained run as CSV")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("run_dir", metavar="DIR")
        p.add_argument("--data", help="dataset name or file (default: the run's test data)")
        p.add_argument("--test-data")
        p.add_argument("--output", "-o", help="where to write (default DIR/predictions.csv)")
        p.add_argument("--input", help="a single input text (text classification)")
        p.add_argument("--beam-width", type=int, default=None,
                       help="seq2seq: beam width (1 = greedy; default: the run's)")
        if name == "evaluate":
            from rnnkit.tasks.lm import add_dynamic_arguments

            add_dynamic_arguments(p.add_argument_group("language models"), "--dynamic",
                                  "--dynamic-eval")

    p = sub.add_parser("forecast", help="forecast the future of a series with a trained run")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--data", required=True, help="CSV with the history (same columns)")
    p.add_argument("--horizon", type=int, help="steps ahead (default: the run's horizon)")
    p.add_argument("--output", "-o", help="CSV to write (default: print)")

    p = sub.add_parser("generate", help="generate text with a trained language model")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--prime", default="", help="text to start from")
    p.add_argument("--length", type=int, default=300, help="characters/tokens to generate")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)

    p = sub.add_parser("explain", help="attention maps / saliency of one example, as PNG + JSON")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--data", help="dataset name or file (default: the run's test data)")
    p.add_argument("--index", type=int, default=0, help="which example (0-based, default 0)")
    p.add_argument("--output", "-o", help="folder for the files (default DIR/explain)")
    p.add_argument("--beam-width", type=int, default=None, help="seq2seq: beam width")
    p.add_argument("--method", choices=["gradient_x_input", "integrated_gradients"],
                   default=None, help="saliency method (default integrated_gradients)")

    p = sub.add_parser("datasets", help="list the built-in real datasets")
    p.add_argument("--task", help="only this task's datasets")

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
    try:
        return int(commands.run(args) or 0)
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except commands.USER_ERROR_TYPES as e:
        if debug:
            traceback.print_exc()
        msg = str(e).strip().strip("'\"") or type(e).__name__
        print(f"rnnkit: error: {msg}", file=sys.stderr)
        return 2
