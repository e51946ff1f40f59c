"""DeepLog OpenStack with time and values (issue 13): key-only detectors against the new signals.

Protocol (nothing is tuned on test labels):

* train: the normal sessions of ``openstack_normal1`` that start first (``--train-share``, 80 %);
  the rest of ``openstack_normal1`` is held back as normal test sessions;
* the parser is mined on the training lines only; the slot schema is typed from them;
* threshold: the project's one rule, :func:`logbert.pipeline.calibrate.choose_threshold` (the
  preset's quantile of normal scores), on out-of-fold scores of the training sessions (k-fold
  cross-fit, then the detector refitted on all of them); LogBERT: on a held-out 20 % of them;
* test: every instance of ``openstack_abnormal`` (198: 4 anomalous under ``anomaly_labels.txt``,
  194 normal, recorded two days before normal1) and the held-back normal sessions.

Reported per detector: the threshold, which of the 4 are flagged, false alarms among the 194 other
abnormal-file instances and among the held-back normal ones, and per flagged anomaly what is at
fault (the value or time, against its training range).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from logbert.baselines import make_baseline
from logbert.baselines.base import BaselineDetector
from logbert.baselines.duration import SessionDurationDetector, TimeGapDetector
from logbert.baselines.params import ParamOutlierDetector
from logbert.config import LogBertConfig, load_config
from logbert.parsing.params import SlotSchema
from logbert.parsing.parser import LogParser
from logbert.pipeline.calibrate import choose_threshold, fold_ids
from logbert.pipeline.corpus import read_corpus
from logbert.pipeline.signals import corpus_signals, fit_slot_schema, line_rows
from logbert.pipeline.split import key_sessions
from logbert.records import KeySequence, SessionSignals
from logbert.results import exceeds

DIR = Path("openstack") / "deeplog_openstack"
NORMAL = "openstack_normal1.instance_lines.log"
ABNORMAL = "openstack_abnormal.instance_lines.log"
LABELS = "anomaly_labels.txt"
KEY_ONLY = ("new_event", "sequence_length", "count_nearest")
SIGNAL_DETECTORS = ("param_outlier", "session_duration", "time_gap")


def missing(data: Path) -> list[Path]:
    return [p for p in (data / DIR / NORMAL, data / DIR / ABNORMAL, data / DIR / LABELS) if not p.is_file()]


def official_anomalies(path: Path) -> set[str]:
    """The instance uuids listed in ``anomaly_labels.txt`` (its other lines are prose)."""
    text = path.read_text(encoding="utf-8")
    return {w for w in text.split() if len(w) == 36 and w.count("-") == 4}


@dataclass(slots=True)
class Data:
    config: LogBertConfig
    parser: LogParser
    schema: SlotSchema
    train: list[KeySequence]
    held: list[KeySequence]  # held-back normal sessions of normal1
    abnormal: list[KeySequence]  # every instance of the abnormal file, label 1 = official anomaly
    signals: dict[str, SessionSignals] = field(default_factory=dict)  # session id -> signals
    seconds: dict[str, float] = field(default_factory=dict)


def load(data: Path, train_share: float) -> Data:
    started = time.perf_counter()
    config = load_config(preset="openstack")
    normal = read_corpus(data / DIR / NORMAL, config, label=0)
    abnormal = read_corpus(data / DIR / ABNORMAL, config, label=0)
    official = official_anomalies(data / DIR / LABELS)
    sessions = sorted(normal.line_sessions, key=lambda s: (s.start_time or 0.0, s.session_id))
    n_train = int(round(train_share * len(sessions)))
    train_ls, held_ls = sessions[:n_train], sessions[n_train:]
    read_s = time.perf_counter() - started
    parser = LogParser(config.parser).fit(normal.lines[i].content for s in train_ls for i in s.rows)
    (train, held), _ = key_sessions(normal, [train_ls, held_ls], parser)
    (abn,), _ = key_sessions(abnormal, [list(abnormal.line_sessions)], parser)
    abn = [replace(s, label=int(s.session_id in official)) for s in abn]
    parse_s = time.perf_counter() - started - read_s
    schema = fit_slot_schema(normal, [s.rows for s in train_ls], parser)
    out = Data(config, parser, schema, train, held, abn)
    for corpus, seqs in ((normal, train + held), (abnormal, abn)):
        for sig in corpus_signals(corpus, seqs, line_rows(corpus), parser, schema):
            out.signals[sig.session_id] = sig
    out.seconds = {
        "read": round(read_s, 2),
        "parse": round(parse_s, 2),
        "schema_and_signals": round(time.perf_counter() - started - read_s - parse_s, 2),
    }
    return out


def _signals(d: Data, seqs: Sequence[KeySequence]) -> list[SessionSignals]:
    return [d.signals[s.session_id] for s in seqs]


def cross_fit_threshold(
    build: Callable[[], BaselineDetector], d: Data, *, folds: int, seed: int, with_signals: bool
) -> tuple[BaselineDetector, float, np.ndarray]:
    """Out-of-fold scores of the training sessions -> ``choose_threshold``; then the detector on all."""
    keys = [s.key_ids for s in d.train]
    sigs = _signals(d, d.train) if with_signals else None
    fold = fold_ids(len(keys), folds, seed)
    oof = np.empty(len(keys))
    for f in range(folds):
        tr = np.flatnonzero(fold != f)
        te = np.flatnonzero(fold == f)
        det = build().fit([keys[i] for i in tr], [sigs[i] for i in tr] if sigs else None)
        oof[te] = det.decision_function([keys[i] for i in te], [sigs[i] for i in te] if sigs else None)
    threshold = choose_threshold(d.config.scoring, oof)
    return build().fit(keys, sigs), threshold, oof


def explain(det: BaselineDetector, d: Data, seq: KeySequence) -> str:
    sig = d.signals[seq.session_id]
    if isinstance(det, ParamOutlierDetector):
        finding = det.explain(seq.key_ids, sig)
        if finding is None:
            return "no scored value"
        slot = d.schema.slots.get(finding.key_id, ())
        return finding.describe(slot[finding.slot] if finding.slot < len(slot) else None)
    if isinstance(det, SessionDurationDetector):
        stat = det.stat_
        if stat is None or sig.elapsed is None:
            return "no duration"
        return (
            f"the session lasted {sig.elapsed:.1f} s; training median {stat.median:.1f} s, "
            f"range {stat.lo:.1f}-{stat.hi:.1f} s (1-99 %)"
        )
    if isinstance(det, TimeGapDetector):
        worst = det.worst_gap(seq.key_ids, sig)
        if worst is None:
            return "no scored gap"
        position, gap, _ = worst
        key = seq.key_ids[position]
        stat = det.stats_[key]
        template = d.parser.templates_[key] if 0 <= key < len(d.parser.templates_) else str(key)
        return (
            f"{gap:.2f} s before '{template}' (key {key}); training median {math.expm1(stat.median):.2f} s, "
            f"range {math.expm1(stat.lo):.2f}-{math.expm1(stat.hi):.2f} s (1-99 %)"
        )
    return ""


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    if not pos.size or not neg.size:
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def evaluate(
    name: str,
    scores_abn: np.ndarray,
    scores_held: np.ndarray,
    threshold: float,
    d: Data,
    flagged_abn: np.ndarray | None = None,
    flagged_held: np.ndarray | None = None,
) -> dict[str, Any]:
    """``flagged_*``: the detector's decisions where they are not ``exceeds(score, threshold)`` (LogBERT does not
    flag a session in flight when its log began, ``SessionResult.partial``); the AUROCs read the scores."""
    labels = np.array([s.label for s in d.abnormal])
    if flagged_abn is None:
        flagged_abn = exceeds(scores_abn, threshold)
    if flagged_held is None:
        flagged_held = exceeds(scores_held, threshold)
    found = [s.session_id for s, f, y in zip(d.abnormal, flagged_abn, labels, strict=True) if f and y == 1]
    pos = scores_abn[labels == 1]
    neg_other = scores_abn[labels == 0]
    return {
        "detector": name,
        "threshold": round(float(threshold), 4),
        "found": len(found),
        "n_anomalies": int(labels.sum()),
        "recall": round(len(found) / max(1, int(labels.sum())), 3),
        "false_alarms_abnormal_file": int((flagged_abn & (labels == 0)).sum()),
        "n_other_abnormal_file": int((labels == 0).sum()),
        "false_alarms_held_normal": int(np.asarray(flagged_held).sum()),
        "n_held_normal": int(scores_held.size),
        "auroc_vs_194": _auroc(pos, neg_other),
        "auroc_vs_held_normal": _auroc(pos, scores_held),
        # the day check: the abnormal file's 194 other instances against the held-back normal ones
        # (recorded two days later); 0.5 = a detector does not tell the days apart
        "auroc_194_vs_held_normal": _auroc(neg_other, scores_held),
        "found_ids": found,
        "anomaly_scores": [round(float(x), 3) for x in pos],
        "max_other_score": round(float(neg_other.max()), 3) if neg_other.size else None,
        "max_held_score": round(float(scores_held.max()), 3) if scores_held.size else None,
    }


def run_baselines(d: Data, names: Sequence[str], folds: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        started = time.perf_counter()
        with_signals = name in SIGNAL_DETECTORS
        det, threshold, _ = cross_fit_threshold(
            lambda name=name: make_baseline(name), d, folds=folds, seed=seed, with_signals=with_signals
        )
        keys_abn = [s.key_ids for s in d.abnormal]
        keys_held = [s.key_ids for s in d.held]
        if with_signals:
            s_abn = det.decision_function(keys_abn, _signals(d, d.abnormal))
            s_held = det.decision_function(keys_held, _signals(d, d.held))
        else:
            s_abn, s_held = det.decision_function(keys_abn), det.decision_function(keys_held)
        row = evaluate(name, s_abn, s_held, threshold, d)
        row["signals"] = "time+values" if with_signals else "keys"
        row["explanations"] = {
            s.session_id: explain(det, d, s)
            for s, score in zip(d.abnormal, s_abn, strict=True)
            if s.label == 1 and exceeds(score, threshold)
        }
        row["false_alarm_explanations"] = [
            f"{where} {s.session_id[:8]}: {explain(det, d, s)}"
            for where, seqs, scores in (("abnormal file", d.abnormal, s_abn), ("held-back normal", d.held, s_held))
            for s, score in zip(seqs, scores, strict=True)
            if s.label == 0 and exceeds(score, threshold)
        ][:8]
        row["seconds"] = round(time.perf_counter() - started, 2)
        rows.append(row)
    return rows


def run_combined(d: Data, folds: int, seed: int) -> dict[str, Any]:
    """Values or duration: the larger of the two detectors' scores, each divided by its own
    threshold (so 1 is each one's threshold); the threshold of the combination is again
    ``choose_threshold`` on its out-of-fold scores."""
    names = ("param_outlier", "session_duration")
    parts = []
    for name in names:
        det, threshold, oof = cross_fit_threshold(
            lambda n=name: make_baseline(n), d, folds=folds, seed=seed, with_signals=True
        )
        parts.append((det, max(threshold, 1e-9), oof))
    oof_comb = np.max([oof / t for _, t, oof in parts], axis=0)
    threshold = choose_threshold(d.config.scoring, oof_comb)

    def score(seqs: Sequence[KeySequence]) -> np.ndarray:
        k, s = [x.key_ids for x in seqs], _signals(d, seqs)
        return np.max([det.decision_function(k, s) / t for det, t, _ in parts], axis=0)

    s_abn, s_held = score(d.abnormal), score(d.held)
    row = evaluate("max(param_outlier, session_duration)", s_abn, s_held, threshold, d)
    row["signals"] = "time+values"
    row["explanations"] = {
        s.session_id: "; ".join(
            explain(det, d, s)
            for det, t, _ in parts
            if exceeds(det.decision_function([s.key_ids], [d.signals[s.session_id]])[0], t)
        )
        for s, sc in zip(d.abnormal, s_abn, strict=True)
        if s.label == 1 and exceeds(sc, threshold)
    }
    row["false_alarm_explanations"] = [
        f"{where} {s.session_id[:8]}: "
        + "; ".join(
            explain(det, d, s)
            for det, t, _ in parts
            if exceeds(det.decision_function([s.key_ids], [d.signals[s.session_id]])[0], t)
        )
        for where, seqs, scores in (("abnormal file", d.abnormal, s_abn), ("held-back normal", d.held, s_held))
        for s, sc in zip(seqs, scores, strict=True)
        if s.label == 0 and exceeds(sc, threshold)
    ][:8]
    return row


def run_logbert(d: Data, epochs: int, seed: int, threads: int) -> dict[str, Any]:
    """Key-only LogBERT through the library: trained on 80 % of the training sessions, threshold by
    ``choose_threshold`` on the session scores of the other 20 % (normal)."""
    import torch

    from logbert.pipeline.estimator import LogBertDetector
    from logbert.pipeline.sessions import session_scores, session_windows

    torch.set_num_threads(threads)
    started = time.perf_counter()
    config = d.config.model_copy(
        update={"train": d.config.train.model_copy(update={"epochs": epochs, "seed": seed, "num_threads": threads})}
    )
    n_fit = int(0.8 * len(d.train))
    fit_s, val_s = d.train[:n_fit], d.train[n_fit:]
    fit_w, _ = session_windows(fit_s, config.window)
    val_w, _ = session_windows(val_s, config.window)
    det = LogBertDetector(config).fit([w.key_ids for w in fit_w], [w.key_ids for w in val_w], progress=False)
    threshold = choose_threshold(config.scoring, session_scores(det, val_s, config.window))
    s_abn = session_scores(det, d.abnormal, config.window)
    s_held = session_scores(det, d.held, config.window)
    row = evaluate("logbert (keys only)", s_abn, s_held, threshold, d)
    row["signals"] = "keys"
    row["explanations"] = {}
    row["seconds"] = round(time.perf_counter() - started, 2)
    row["epochs"] = epochs
    return row
