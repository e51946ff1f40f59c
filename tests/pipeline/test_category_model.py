"""Category slots in the time- and value-aware LogBERT (issue 13, items 1-2): a state never seen in training
for its template slot is the largest value surprise, and its explanation names it; an artifact written before
categories were read (``signals.json`` version 1) loads and scores as it did."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from logbert.artifact import SIGNALS_FILE
from logbert.pipeline.detector import describe_category, describe_signal, shown_text
from logbert.pipeline.estimator import LogBertDetector
from logbert.records import KeySequence, SessionSignals

from .tiny_signal_model import KEYS, fit_on_keys, tiny_signal_config

torch.set_num_threads(1)

TEMPLATES = {12: "Took <*> seconds, power_state <*>"}
CAP = 20.0  # scoring.nll_cap's default


def _session(rng: np.random.Generator, state: str = "running") -> SessionSignals:
    gaps = (0.0, 1.0 + 0.1 * rng.random(), 5.0 + rng.random(), 1.0, 1.0 + rng.random())
    values = ((), (), (20.0 + rng.random(), state), (), ())
    return SessionSignals(gaps, values, sum(gaps))


RNG = np.random.default_rng(0)
TRAIN = [_session(RNG, "running" if i % 4 else "shutdown") for i in range(96)]
NORMAL = [_session(RNG) for _ in range(24)]
CRASHED = replace(NORMAL[0], values=((), (), (NORMAL[0].values[2][0], "crashed"), (), ()))
CONFIG = tiny_signal_config("values", epochs=2, min_steps=40)


@pytest.fixture(scope="module")
def model() -> LogBertDetector:
    return fit_on_keys(CONFIG, TRAIN, NORMAL)


def test_an_unseen_state_is_the_largest_value_surprise_and_flags_the_session(model: LogBertDetector) -> None:
    assert model.buckets_ is not None and dict(model.buckets_.categories) == {(12, 1): ("running", "shutdown")}
    normal = model.channel_scores([KEYS] * len(NORMAL), NORMAL)
    crashed = model.channel_scores([KEYS], [CRASHED])[0]
    assert crashed[2] == pytest.approx(2 * CAP)  # the tail term and the excess, each at the cap
    assert normal[:, 2].max() < CAP  # seen states are no signal; the numbers are in range
    assert model.decision_function([KEYS], [CRASHED])[0] > model.threshold_
    # the same session with a seen state scores as a normal one (the state is not read)
    shutdown = replace(CRASHED, values=((), (), (CRASHED.values[2][0], "shutdown"), (), ()))
    assert model.channel_scores([KEYS], [shutdown])[0][2] < CAP


def test_the_explanation_names_the_slot_the_state_and_the_training_states(model: LogBertDetector) -> None:
    assert model.buckets_ is not None
    out = model.scores([KEYS], details=True, signals=[CRASHED])
    assert out.signal_details is not None
    detail = next(d for d in out.signal_details[0] if d.channel == "value")
    assert detail.position == 2 and detail.surprise == pytest.approx(2 * CAP)
    text = describe_signal(detail, KeySequence("c", KEYS, signals=CRASHED), model.buckets_, None, TEMPLATES.get)
    assert text == (
        "power_state 'crashed' never seen in training for 'Took <*> seconds, power_state <*>' (key 12) "
        "(seen: running, shutdown)"
    )


def test_category_text_in_explanations_is_escaped_and_cut() -> None:
    long = "x" * 100
    text = describe_category(long, 3, 0, ("a\x1b[31mb", *"cdefgh"), "state <*>")
    assert f"state '{'x' * 39}…' never seen" in text and "x" * 40 not in text
    assert "\x1b" not in text and "a\\x1b[31mb" in text  # a terminal escape is shown, not sent
    assert text.endswith("(seen: a\\x1b[31mb, c, d, e, f and 2 more)")
    assert shown_text("[bold]on[/bold]") == "[bold]on[/bold]"  # markup is data: printed as it is (no Rich here)
    assert shown_text("line\nbreak") == "line\\nbreak"
    # a slot without a word before it is named by its index; a missing template by the key id
    assert describe_category("z", 7, 1, ("y",), "<*> <*>").startswith("slot 1 'z' never seen in training for '<*> <*>'")
    assert describe_category("z", 7, 0, ("y",), None) == "slot 0 'z' never seen in training for key 7 (seen: y)"


def test_an_artifact_from_before_categories_loads_and_scores_as_before(model: LogBertDetector, tmp_path: Path) -> None:
    assert model.buckets_ is not None
    model.save(tmp_path / "new")
    new_state = json.loads((tmp_path / "new" / SIGNALS_FILE).read_text())
    assert new_state["buckets"]["version"] == 3 and new_state["buckets"]["categories"]  # 3: values picked by rank
    # what the code before categories wrote: the same model, buckets without categories (version 1, by bucket)
    legacy = LogBertDetector.load(tmp_path / "new")
    legacy.buckets_ = replace(model.buckets_, categories={}, ranked=False)
    legacy.save(tmp_path / "old")
    old_state = json.loads((tmp_path / "old" / SIGNALS_FILE).read_text())
    assert old_state["buckets"]["version"] == 1 and "categories" not in old_state["buckets"]
    old = LogBertDetector.load(tmp_path / "old")
    assert old.buckets_ is not None and not old.buckets_.categories and not old.buckets_.ranked
    # the old artifact does not read states: an unseen one scores like the seen one (as before), every channel
    sessions = [*NORMAL[:4], CRASHED]
    seen = [*NORMAL[:4], NORMAL[0]]
    five = [KEYS] * 5
    np.testing.assert_array_equal(old.channel_scores(five, sessions), old.channel_scores(five, seen))
    np.testing.assert_array_equal(old.decision_function(five, sessions), model.decision_function(five, seen))
    # the new one does, and otherwise scores identically
    again = LogBertDetector.load(tmp_path / "new")
    four = [KEYS] * 4
    np.testing.assert_array_equal(again.channel_scores(four, NORMAL[:4]), old.channel_scores(four, NORMAL[:4]))
    assert again.channel_scores([KEYS], [CRASHED])[0][2] == pytest.approx(2 * CAP)


def test_sessions_with_an_unseen_category_are_found_for_the_model_that_scores_them(model: LogBertDetector) -> None:
    from logbert.pipeline.sessions import unseen_category_sessions

    seqs = [KeySequence("a", KEYS, signals=NORMAL[1]), KeySequence("b", KEYS, signals=CRASHED), KeySequence("c", KEYS)]
    assert unseen_category_sessions(seqs, model.buckets_).tolist() == [False, True, False]
    assert unseen_category_sessions(seqs, None).tolist() == [False, False, False]  # a key-only model


def test_a_validation_session_with_an_unseen_category_is_left_out_of_the_threshold_and_counted() -> None:
    from logbert.pipeline.fit import fit_sessions

    train = [KeySequence(f"t{i}", KEYS, label=0, signals=s) for i, s in enumerate(TRAIN)]
    val = [KeySequence(f"v{i}", KEYS, label=0, signals=s) for i, s in enumerate(NORMAL)]
    odd = KeySequence("odd", KEYS, label=0, signals=CRASHED)
    fitted = fit_sessions(train, [*val, odd], CONFIG, scheme="split", what="test")
    assert fitted.record.n_unseen == 1  # the crashed one: its value surprise says "new", not how normal
    crashed_score = fitted.detector.decision_function([KEYS], [CRASHED])[0]
    assert crashed_score > fitted.detector.threshold_  # so it did not set the threshold (or the value scale)
