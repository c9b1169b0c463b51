"""One-call explanations that write pictures and a JSON of the scores for one example.

* :func:`explain_sequence` — a classifier's or forecaster's input ``x`` [T, C]: per-step
  saliency (integrated gradients or gradient × input) as ``saliency-N.png`` + ``.json``, and,
  for attention-pooled models, the attention weights as ``attention-N.png``.
* :func:`explain_tokens` — a text model ``model(ids, lengths)``: saliency w.r.t. the output of
  its ``embedding`` module (substituted by a forward hook, so the model needs no changes).
* :func:`explain_tagger` — a tagger's sentence: for each predicted tag, the saliency of every
  input token (w.r.t. the token embeddings), drawn as an outputs × inputs heatmap.

Example (in a task's ``explain(run_dir, args)``):
    >>> files = explain_sequence(lambda x, n: model(x, n), x_i, out_dir, index=i,
    ...                          labels=None, attention=alpha_i)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.interpret.saliency import gradient_x_input, integrated_gradients
from rnnkit.plots.attention import plot_attention, plot_saliency

__all__ = ["METHODS", "explain_sequence", "explain_tagger", "explain_tokens", "saliency"]

METHODS = ("integrated_gradients", "gradient_x_input")


def saliency(fn: Callable, x: Tensor, lengths: Tensor | None = None, target: Any = None,
             method: str = "integrated_gradients", steps: int = 32) -> tuple[Tensor, Tensor | None]:
    """Dispatch to a saliency method: returns ``(scores [B, T], delta [B] or None)``."""
    if method == "integrated_gradients":
        return integrated_gradients(fn, x, lengths, target, steps=steps)
    if method == "gradient_x_input":
        return gradient_x_input(fn, x, lengths, target), None
    raise ValueError(f"explain: expected method in {list(METHODS)}, got {method!r}. Pass "
                     "--method integrated_gradients or gradient_x_input.")


def _write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def explain_sequence(fn: Callable, x: Tensor, out_dir: str | os.PathLike, index: int = 0,
                     method: str = "integrated_gradients", target: Any = None,
                     labels: Sequence[str] | None = None, attention: Tensor | None = None,
                     steps: int = 32, caption: str | None = None) -> list[Path]:
    """Saliency (and attention) of one sequence ``x`` [T, C] under ``fn(x [B,T,C], lengths)``.

    Writes ``saliency-{index}.png`` and ``saliency-{index}.json`` (``scores`` per step,
    ``method``, ``target``, ``output``, ``delta``) in ``out_dir``, plus
    ``attention-{index}.png`` when ``attention`` ([T] weights) is given. ``caption`` (e.g.
    ``"true: walking, predicted: running"``) is added to the titles. Returns the paths.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.dim() == 1:
        x = x[:, None]
    xb, lengths = x[None], torch.tensor([x.shape[0]])
    with torch.no_grad():
        y = fn(xb, lengths)
        y = y[0] if isinstance(y, tuple | list) else y
    scores, delta = saliency(fn, xb, lengths, target, method, steps)
    out = Path(out_dir)
    record = {"index": index, "method": method,
              "target": target if target is None or isinstance(target, int) else str(target),
              "output": y[0].tolist(), "scores": scores[0].tolist(),
              "delta": None if delta is None else float(delta[0])}
    files = [plot_saliency(scores[0], out / f"saliency-{index}.png", labels=labels,
                           series=x.numpy() if labels is None else None,
                           title=f"{method.replace('_', ' ')} — example {index}"
                           + (f" — {caption}" if caption else ""))]
    if attention is not None:
        a = torch.as_tensor(attention).detach().reshape(1, -1)
        names = list(labels) if labels is not None else [str(t) for t in range(a.shape[1])]
        files.append(plot_attention(a, names, ["α"], out / f"attention-{index}.png",
                                    title=f"attention — example {index}"
                                    + (f" — {caption}" if caption else "")))
        record["attention"] = a[0].tolist()
    files.append(_write_json(out / f"saliency-{index}.json", record))
    return files


def explain_tagger(model, ids: Sequence[int], tokens: Sequence[str], tags: Sequence[str],
                   out_dir: str | os.PathLike, index: int = 0,
                   method: str = "integrated_gradients", steps: int = 32) -> list[Path]:
    """For each predicted tag of one sentence, the saliency of every input token.

    ``model`` is a :class:`rnnkit.models.tagger.Tagger` (``embed`` and ``forward_embeddings``).
    Writes ``saliency-{index}.png`` (outputs × inputs heatmap) and ``saliency-{index}.json``.
    """
    model.eval()
    T = len(ids)
    if T == 0:
        raise ValueError("explain: expected a sentence with tokens, got an empty one.")
    tok = torch.tensor([list(ids)])
    lengths = torch.tensor([T])
    pred = model.decode(tok, lengths)[0]
    with torch.no_grad():
        emb = model.embed(tok).expand(T, T, -1).contiguous()  # one copy per output position
    rows = torch.arange(T)

    def fn(x, n):
        return model.forward_embeddings(x, n)

    target = lambda y: y[rows, rows, torch.tensor(pred)]  # noqa: E731
    scores, _ = saliency(fn, emb, lengths.expand(T), target, method, steps)
    out = Path(out_dir)
    labels = [f"{w}/{tags[p]}" for w, p in zip(tokens, pred, strict=True)]
    png = plot_attention(scores, list(tokens), labels, out / f"saliency-{index}.png",
                         title=f"{method.replace('_', ' ')}: predicted tag × input token",
                         xlabel="input token")
    record = {"index": index, "method": method, "tokens": list(tokens),
              "predicted": [tags[p] for p in pred], "scores": scores.tolist()}
    return [png, _write_json(out / f"saliency-{index}.json", record)]


def explain_tokens(model, embedding, ids: Sequence[int], tokens: Sequence[str],
                   out_dir: str | os.PathLike, index: int = 0,
                   method: str = "integrated_gradients", target: Any = None,
                   attention: Tensor | None = None, steps: int = 32,
                   caption: str | None = None) -> list[Path]:
    """Token saliency of a text model ``model(ids [B, T], lengths) -> logits``.

    The gradient is taken w.r.t. the output of ``embedding`` (an ``nn.Embedding`` inside
    ``model``), which a forward hook replaces by the interpolated embeddings; parts of the
    model that bypass the embedding (e.g. a hashed bag of words) get no credit. Writes the
    same files as :func:`explain_sequence`, labelled with ``tokens``.
    """
    model.eval()
    ids_t = torch.as_tensor(list(ids), dtype=torch.long)[None]
    if ids_t.shape[1] == 0:
        raise ValueError("explain: expected a text with tokens, got an empty one.")
    with torch.no_grad():
        emb = embedding(ids_t)[0]

    def fn(x: Tensor, lengths: Tensor):
        handle = embedding.register_forward_hook(lambda mod, inp, out: x)
        try:
            return model(ids_t.expand(x.shape[0], -1), lengths)
        finally:
            handle.remove()

    return explain_sequence(fn, emb, out_dir, index, method, target, list(tokens), attention,
                            steps, caption)
