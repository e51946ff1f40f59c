"""evaluate on another file: a session whose id recurs there (a package installed again, a client that comes back)
is a new session and is scored; the training sessions themselves (the training log again) are left out."""

from __future__ import annotations

import json
from pathlib import Path

from logbert.config import LogBertConfig
from logbert.pipeline.evaluate import _is_training_session, evaluate
from logbert.pipeline.fit import session_mark, train
from logbert.records import KeySequence

from .tiny import TINY_TRAINING

TINY = {"parser.log_format": "<Date> <Time> <Content>", "window.session_pattern": r"task=(\d+)", **TINY_TRAINING}


def _log(path: Path, day: int, tasks: range, failing: tuple[int, ...] = ()) -> None:
    lines = []
    for n, task in enumerate(tasks):
        steps = ("received", "failed") if task in failing else ("received", "processed", "acked")
        lines += [f"2026-11-{day:02d} 10:{n // 60:02d}:{n % 60:02d} task={task} {step}" for step in steps]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_marks_tell_a_recurring_id_from_the_training_session() -> None:
    trained = KeySequence("7", [1, 2, 3], start_time=100.0, line_nos=[4, 5, 6])
    marks = {"7": session_mark(trained)}
    assert _is_training_session(trained, {"7"}, marks)
    assert not _is_training_session(KeySequence("7", [1, 2, 3], start_time=900.0), {"7"}, marks)  # later: new
    assert not _is_training_session(KeySequence("7", [1, 4], start_time=100.0), {"7"}, marks)  # other keys: new
    assert _is_training_session(KeySequence("7", [1, 2, 3, 3], start_time=100.0), {"7"}, marks)  # longer copy
    assert _is_training_session(KeySequence("7", [9], start_time=1.0), {"7"}, None)  # old artifact: the id decides
    untimed = KeySequence("7", [1, 2], line_nos=[10, 11])
    assert session_mark(untimed) == "line 10|1 2" and not _is_training_session(
        KeySequence("7", [1, 2], line_nos=[30, 31]), {"7"}, {"7": session_mark(untimed)}
    )


def test_evaluate_scores_recurring_ids_of_another_file_and_leaves_out_the_training_log(tmp_path: Path) -> None:
    _log(tmp_path / "train.log", 1, range(40))
    result = train(tmp_path / "train.log", tmp_path / "art", LogBertConfig().with_overrides(TINY), progress=False)
    split = json.loads((tmp_path / "art" / "split.json").read_text())
    assert set(split["marks"]) == set(split["train"]) | set(split["val"])
    used = set(split["train"]) | set(split["val"])
    recurring = sorted(int(t) for t in used)[:4]
    _log(tmp_path / "later.log", 2, range(recurring[0], recurring[0] + 1), failing=(recurring[0],))
    with (tmp_path / "later.log").open("a", encoding="utf-8") as f:  # three more of the ids, and two new ones
        for n, task in enumerate([*recurring[1:], 100, 101]):
            f.writelines(f"2026-11-02 11:00:{n:02d} task={task} {s}\n" for s in ("received", "processed", "acked"))
    labels = tmp_path / "labels.csv"
    labels.write_text("session_id,label\n" + "".join(f"{t},{int(t == recurring[0])}\n" for t in [*recurring, 100, 101]))
    later = evaluate(tmp_path / "art", tmp_path / "later.log", labels=labels, baselines=())
    assert later.report["n_sessions"] == 6 and later.report["n_same_id_new_sessions"] == 4
    assert later.report["n_excluded_training_sessions"] == 0 and later.report["n_abnormal"] == 1
    again = tmp_path / "train_labels.csv"
    again.write_text("session_id,label\n" + "".join(f"{t},0\n" for t in range(40)))
    same = evaluate(tmp_path / "art", tmp_path / "train.log", labels=again, baselines=())
    assert same.report["n_excluded_training_sessions"] == len(used) and same.report["n_same_id_new_sessions"] == 0
    assert same.report["n_sessions"] == 40 - len(used) == result.n_test_sessions
    # every session labelled normal: why F1 is n/a is said (the CLI prints it among the warnings)
    assert later.report["one_class"] is None
    assert same.report["one_class"].startswith(f"none of the {same.report['n_sessions']} sessions evaluated is")


def test_evaluate_on_another_file_fits_the_baselines_on_the_training_log_when_given(tmp_path: Path) -> None:
    _log(tmp_path / "train.log", 1, range(40))
    train(tmp_path / "train.log", tmp_path / "art", LogBertConfig().with_overrides(TINY), progress=False)
    _log(tmp_path / "later.log", 3, range(100, 110), failing=(100, 101))
    labels = tmp_path / "labels.csv"
    labels.write_text("session_id,label\n" + "".join(f"{t},{int(t < 102)}\n" for t in range(100, 110)))
    alone = evaluate(tmp_path / "art", tmp_path / "later.log", labels=labels, baselines=("new_event",))
    assert "skipped" in alone.baselines["new_event"] and "--training" in alone.baselines["new_event"]["skipped"]
    given = evaluate(tmp_path / "art", tmp_path / "later.log", labels=labels, baselines=("new_event",),
                     training=tmp_path / "train.log")
    rep = given.baselines["new_event"]
    assert "skipped" not in rep and rep["n_normal"] == 8 and rep["n_abnormal"] == 2
    assert rep["recall"] == 1.0 and rep["fpr"] == 0.0  # "failed" is a template the training log never had
    assert given.report["f1"] == alone.report["f1"]  # LogBERT's own figures do not depend on it
    # nothing of later.log was a training session: the training log's sessions are not counted as left out of it
    assert given.report["n_excluded_training_sessions"] == alone.report["n_excluded_training_sessions"] == 0
