"""Scoring speed and decisions on real test sessions: logbert's scorer against the plain fp32 loop.

    .venv/bin/python -m benchmarks.speed.real ARTIFACT LOG [ARTIFACT LOG ...] [--out benchmarks/results/speed_real.md]

For each trained artifact and the log it was trained on, the test sessions (those in neither
``train`` nor ``val`` of the artifact's ``split.json``) are cut into windows exactly as
``logbert score`` cuts them, and every window is scored twice with the artifact's weights:

* ``logbert``: the artifact's own scorer (``LogBertDetector.scores``, what ``score``/``serve`` run),
  which scores each distinct window once (``logbert.windowing.dataset.distinct_rows``; an order-free
  model's windows in one order of their keys, ``canonical_order``): the table gives the distinct
  windows, and the rate per distinct window, the model's own speed;
* ``plain fp32``: torch's own ``nn.TransformerEncoder`` layers loaded with the same weights, every
  window padded to the model's width, one unmasked pass plus one pass per strided mask that masks
  something, batch 256, the score computed from the full logits (the reference definition of the
  artifact's score); the short-session term (``scoring.length_weight``), no model output, is added
  to both from the artifact's length reference. With ``scoring.mask_span`` w > 1 (the
  ``openstack_devstack`` preset) the passes mask runs of w keys at each of the w offsets (w times the
  passes) and each key's miss and surprise come from the scorer's own run rule (``_view``: the run's mean
  prediction, repeats in a run; ``_least_surprising``: a key's best run) applied to the full logits, so
  the rule is one piece of code and the plain arm pays for it too; before stop 47 this reference scored
  one key at a time whatever the artifact said (docs/benchmarks.md, "Stop 46: the current presets' artifacts").

A session scores its worst window (:mod:`logbert.pipeline.sessions`) and is anomalous when its
score exceeds the stored threshold (:func:`logbert.results.exceeds`). The table gives windows per
CPU-second of each path (process time: this machine is shared, so wall time would measure the
neighbours), their ratio, and how many test-session decisions agree. 1 torch thread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from benchmarks._report import header

from logbert.config import LogBertConfig
from logbert.model.encoder import last_key
from logbert.pipeline.detector import load_detector
from logbert.pipeline.sessions import session_windows
from logbert.results import exceeds
from logbert.scoring.scorer import _least_surprising, _view, canonical_order, strided_masks
from logbert.windowing.dataset import encode_sequences, pad_tokens

ROOT = Path(__file__).resolve().parents[2]


class PlainEncoder(torch.nn.Module):
    """The textbook model with LogBertEncoder's parameter names: torch's own encoder layers."""

    def __init__(self, config: LogBertConfig) -> None:
        super().__init__()
        c = config.model
        self.token_emb = torch.nn.Embedding(c.vocab_size, c.d_model)
        # an order-free artifact (model.positions = false) has none; model.mark_last: one vector on each row's last key
        self.pos_emb = torch.nn.Embedding(c.max_len + 1, c.d_model) if c.positions else None
        self.last_emb = torch.nn.Parameter(torch.zeros(c.d_model)) if c.mark_last else None
        layer = torch.nn.TransformerEncoderLayer(
            c.d_model, c.n_heads, c.d_ff, c.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(c.d_model)
        self.head = torch.nn.Linear(c.d_model, c.vocab_size)

    def forward(self, tok: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.token_emb(tok)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(tok.shape[1]))
        if self.last_emb is not None:  # the mark stays on a masked last key, as in training
            x = x + last_key(pad)[..., None] * self.last_emb
        x = self.norm(self.encoder(x, src_key_padding_mask=pad))
        return self.head(x), x[:, 0]


def plain_scores(model: PlainEncoder, vocab: object, windows: list[list[int]], config: LogBertConfig,
                 center: torch.Tensor) -> np.ndarray:
    """The artifact's score kind for every window, from full-width fp32 passes (the reference)."""
    sc = config.scoring
    rows = encode_sequences(windows, vocab, config.model.max_len)  # type: ignore[arg-type]
    n = len(rows)
    miss, masked = np.zeros(n), np.zeros(n)
    nll_sum, nll_max, dist = np.zeros(n), np.zeros(n), np.zeros(n)
    width = config.model.max_len + 1
    n_special = vocab.N_SPECIAL  # type: ignore[attr-defined]
    with torch.inference_mode():
        for s in range(0, n, 256):
            tok, pad = pad_tokens(rows[s : s + 256], vocab.PAD, pad_to=width)  # type: ignore[attr-defined]
            _, dist_emb = model(tok, pad)
            dist[s : s + len(tok)] = ((dist_emb - center) ** 2).sum(-1).double().numpy()
            views = []
            for chosen in strided_masks(pad, sc.mask_stride, sc.mask_span):
                if not chosen.any():  # mask_stride 128 on rows of 20-40 keys: most passes mask nothing
                    continue
                logits, _ = model(tok.masked_fill(chosen, vocab.MASK), pad)  # type: ignore[attr-defined]
                if sc.mask_span > 1:  # the run score: the scorer's own rule over this pass's full logits
                    where = chosen.nonzero()  # (M, 2) rows then positions ascending, as _view expects
                    views.append(_view(vocab, sc, torch.arange(len(tok)), where[:, 0], where[:, 1],  # type: ignore[arg-type]
                                       tok[where[:, 0], where[:, 1]], logits[where[:, 0], where[:, 1]]))
                    continue
                logits = logits.float()
                logits[..., :n_special] = -torch.inf
                log_probs = torch.log_softmax(logits, dim=-1)
                top = log_probs.topk(sc.top_g, dim=-1).indices
                hit = (top == tok[..., None]).any(-1)
                nll = (-log_probs.gather(-1, tok[..., None]).squeeze(-1)).clamp(max=sc.nll_cap)
                nll = torch.where(chosen, nll, torch.zeros_like(nll)).double()
                miss[s : s + len(tok)] += (chosen & ~hit).sum(1).numpy()
                masked[s : s + len(tok)] += chosen.sum(1).numpy()
                nll_sum[s : s + len(tok)] += nll.sum(1).numpy()
                nll_max[s : s + len(tok)] = np.maximum(nll_max[s : s + len(tok)], nll.max(1).values.numpy())
            if views:  # each key once, from the run in which it was least surprising
                _, row, _, _, _, _, key_nll, hit = _least_surprising(views)
                here = row.numpy() + s
                np.add.at(masked, here, 1)
                np.add.at(miss, here, (~hit).numpy().astype(np.int64))
                np.add.at(nll_sum, here, key_nll.double().numpy())
                np.maximum.at(nll_max, here, key_nll.double().numpy())
    by_kind = {
        "miss_ratio": miss / masked,
        "mean_nll": nll_sum / masked,
        "max_nll": nll_max,
        "max_mean_nll": nll_max + nll_sum / masked,
        "dist": dist,
    }
    return by_kind[sc.score]


def _as_scored(encoder: torch.nn.Module, scoring: object, keys: list[int]) -> tuple[int, ...]:
    """A window as the scorer scores it: an order-free model's in one order of its keys (``canonical_order``)."""
    order = canonical_order(encoder, scoring, keys)  # type: ignore[arg-type]
    return tuple(keys if order is None else (keys[j] for j in order))


def run_one(artifact: Path, log: Path, repeats: int = 1) -> dict[str, object]:
    det = load_detector(artifact, need_parser=False)
    split = json.loads((artifact / "split.json").read_text(encoding="utf-8"))
    seen = set(split["train"]) | set(split["val"])
    sequences, _ = det.read(log)
    test = [s for s in sequences if s.session_id not in seen]
    windows, _ = session_windows(test, det.config.window)
    keys = [list(w.key_ids) for w in windows]
    owner = [w.session_id for w in windows]
    config, model = det.config, det.model

    torch.set_num_threads(1)
    plain = PlainEncoder(config).eval()
    plain.load_state_dict(model.model_.state_dict())

    def ours_run() -> np.ndarray:
        return model.score_of(model.scores(keys))  # the decision score, the short-session term included

    def plain_run() -> np.ndarray:
        ref = plain_scores(plain, model.vocab_, keys, config, model.center_)
        if model.lengths_ is not None:  # the short-session term is no model output: both paths add the same one
            ref = ref + config.scoring.length_weight * model.lengths_.surprise(keys)
        return ref

    # the arms alternate, each timed `repeats` times; the median CPU time of each (the first call of a process
    # also pays for one-off set-up, so with repeats > 1 a warm-up call of each arm comes first, untimed)
    ours_t: list[float] = []
    plain_t: list[float] = []
    if repeats > 1:
        ours_run(), plain_run()
    for _ in range(repeats):
        started = time.process_time()
        ours = ours_run()
        ours_t.append(time.process_time() - started)
        started = time.process_time()
        ref = plain_run()
        plain_t.append(time.process_time() - started)
    ours_s, plain_s = float(np.median(ours_t)), float(np.median(plain_t))
    ratios = sorted(p / o for o, p in zip(ours_t, plain_t, strict=True))

    def sessions(window_scores: np.ndarray) -> dict[str, float]:
        worst: dict[str, float] = {}
        for sid, score in zip(owner, window_scores, strict=True):
            worst[sid] = max(worst.get(sid, -np.inf), float(score))
        return worst

    a, b = sessions(ours), sessions(ref)
    same = sum(bool(exceeds(a[s], det.threshold)) == bool(exceeds(b[s], det.threshold)) for s in a)
    return {
        "artifact": artifact.name,
        "score": config.scoring.score,
        "threshold": det.threshold,
        "windows": len(keys),
        "distinct": len({_as_scored(model.model_, config.scoring, k) for k in keys}),
        "sessions": len(a),
        "anomalous": sum(bool(exceeds(v, det.threshold)) for v in a.values()),
        "ours_wps": len(keys) / ours_s,
        "plain_wps": len(keys) / plain_s,
        "same_decisions": same,
        "max_score_diff": float(np.max(np.abs(ours - ref))),
        "ratios": ratios,
    }


def _spread(ratios: object) -> str:
    """The repeats' own ratios, lowest to highest, after the ratio of the medians (nothing for one repeat)."""
    assert isinstance(ratios, list)
    return "" if len(ratios) < 2 else " (" + " / ".join(f"{x:.2f}" for x in ratios) + ")"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="ARTIFACT LOG pairs")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each arm this many times, alternating, after an untimed warm-up call of each when "
                        "more than 1; the table gives the medians and the ratio of each repeat")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed_real.md")
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        parser.error("give ARTIFACT LOG pairs")
    rows = [run_one(Path(a), Path(b), args.repeats) for a, b in zip(args.pairs[::2], args.pairs[1::2], strict=True)]
    lines = [
        *header("Scoring speed and decisions on real test sessions", "benchmarks.speed.real", argv,
                "1 torch thread; windows per CPU-second (process time), median of the repeats; ratio: of the medians "
                "(with several repeats, each repeat's own, lowest first)"),
        "",
        "| artifact | score | test sessions / windows / distinct | anomalous | logbert windows/s "
        "| (per distinct window) | plain fp32 windows/s | ratio | same decisions | max score difference |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['artifact']} | {r['score']} | {r['sessions']} / {r['windows']} / {r['distinct']} | {r['anomalous']} "
            f"| {r['ours_wps']:,.0f} | {float(r['ours_wps']) * int(r['distinct']) / int(r['windows']):,.0f} "  # type: ignore[call-overload]
            f"| {r['plain_wps']:,.0f} | {float(r['ours_wps']) / float(r['plain_wps']):.2f}x{_spread(r['ratios'])} "  # type: ignore[arg-type]
            f"| {r['same_decisions']} / {r['sessions']} | {r['max_score_diff']:.1e} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
