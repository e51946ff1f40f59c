"""A session id is a parameter: ``window.session_pattern``'s id is masked before template mining, and two-token
messages that share only a masked value are not one event (a syslog mail log, as a new user brings one)."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from logbert import api
from logbert.config import LogBertConfig, MaskRule, ParserConfig, WindowConfig
from logbert.parsing.masking import Masker, default_masks
from logbert.parsing.parser import LogParser
from logbert.pipeline.parse import parse, template_parser
from logbert.windowing.windows import session_id_mask

# Postfix's long queue ids (enable_long_queue_ids: 3yb4gF6pDRz2dZ5): no generic mask knows them (the short, hex ones
# are taken by the hex_id rule)
QUEUE_ID = r"\b([0-9A-Za-z]{15}):"
_ID_CHARS = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def _postfix_log(path: Path, n_mails: int, seed: int = 0, deferred: int = 0) -> list[str]:
    """``n_mails`` delivered mails in Postfix's syslog lines (the queue id is the session); the last ``deferred``
    of them are deferred instead (no ``removed``). Returns the queue ids in order."""
    rng = random.Random(seed)
    lines, ids = [], []
    for i in range(n_mails):
        qid = "".join(rng.choice(_ID_CHARS) for _ in range(15))
        pid, ip = rng.randint(1000, 30000), f"10.0.{i % 250}.{i % 200 + 1}"
        ids.append(qid)
        stamp = f"Nov 30 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        body = [
            ("smtpd", f"{qid}: client=unknown[{ip}]"),
            # the first mail's id holds no digit: an address in angle brackets is a value all the same
            ("cleanup", f"{qid}: message-id=<{'abcdef' if i == 0 else f'{rng.getrandbits(32):08x}{i}'}@example.com>"),
            ("qmgr", f"{qid}: from=<user{i}@example.com>, size={rng.randint(500, 9000)}, nrcpt=1 (queue active)"),
        ]
        if i >= n_mails - deferred:
            body.append(("smtp", f"{qid}: to=<x{i}@mx.example.org>, relay=none, delay=31, dsn=4.4.1, status=deferred"))
        else:
            body.append(("smtp", f"{qid}: to=<x{i}@mx.example.org>, relay=mx.example.org[1.2.3.4]:25, dsn=2.0.0, "
                                 "status=sent (250 OK)"))
            body.append(("qmgr", f"{qid}: removed"))
        lines += [f"{stamp} mail postfix/{proc}[{pid}]: {msg}" for proc, msg in body]
    path.write_text("".join(line + "\n" for line in lines))
    return ids


def test_a_rule_on_a_group_replaces_that_group_only() -> None:
    rule = MaskRule(name="session_id", pattern=QUEUE_ID, group=1)
    masker = Masker([rule, *default_masks("raw")])
    assert masker.mask("3yb4gF6pDRz2dZ5: removed") == "<*>: removed"
    assert masker.mask_many(["3yb4gF6pDRz2dZ5: removed", "no id here: 12"]) == ["<*>: removed", "no id here: <*>"]
    # each replaced value is known with its token (parameters as data)
    assert masker.mask_tokens("3yb4gF6pDRz2dZ5: size=12 removed") == (
        ["<*>:", "size=<*>", "removed"], ["3yb4gF6pDRz2dZ5:", "size=12", "removed"],
    )
    # a group that takes no part in a match leaves the match alone
    optional = Masker([MaskRule(name="x", pattern=r"id(=(\d+))?", group=2)])
    assert optional.mask("id and id=7") == "id and id=<*>"
    assert optional.mask_tokens("id and id=7") == (["id", "and", "id=<*>"], ["id", "and", "id=7"])
    # worker processes get the masker by pickle: rebuilt from its rules
    assert pickle.loads(pickle.dumps(masker)).mask("3yb4gF6pDRz2dZ5: removed") == "<*>: removed"


def test_a_group_the_pattern_lacks_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="group 2"):
        MaskRule(name="x", pattern=r"(\d+)", group=2)


def test_only_a_users_session_pattern_gets_a_rule() -> None:
    assert session_id_mask(WindowConfig()) is None  # OpenStack instances: the openstack masks have them
    assert session_id_mask(WindowConfig(session_id="hdfs_block")) is None
    assert session_id_mask(WindowConfig(mode="sliding", session_pattern=QUEUE_ID)) is None  # no sessions
    rule = session_id_mask(WindowConfig(session_pattern=QUEUE_ID))
    assert rule is not None and (rule.pattern, rule.group) == (QUEUE_ID, 1)
    whole = session_id_mask(WindowConfig(session_pattern=r"req-\d+"))  # no group: the whole match is the id
    assert whole is not None and whole.group == 0


def test_the_template_parser_masks_the_id_first_and_keeps_user_masks() -> None:
    config = LogBertConfig().with_overrides({"window.session_pattern": QUEUE_ID, "parser.format": "syslog"})
    parser = template_parser(config)
    parser.fit(["3yb4gF6pDRz2dZ5: removed"])
    masks = parser.masks_
    assert masks[0].name == "session_id" and masks[1:] == default_masks("syslog")
    assert parser.config == config.parser  # the settings stay the config's (an artifact checks they agree)
    own = (MaskRule(name="mine", pattern="x+"),)
    mine = template_parser(config.with_overrides({"parser.masks": [r.model_dump() for r in own]})).fit(["a"])
    assert mine.masks_ == (masks[0], *own)
    plain = template_parser(LogBertConfig()).fit(["a"])  # nothing added without a pattern of the user's
    assert plain.masks_ == default_masks(LogBertConfig().parser.format)
    # a saved parser keeps its rules, refitted too
    restored = LogParser.from_dict(json.loads(json.dumps(parser.to_dict())))
    assert restored.masks_ == masks and restored.fit(["4Qx3Zq1vXnz6bcd: removed"]).masks_ == masks


def test_a_mail_log_gets_one_template_per_event(tmp_path: Path) -> None:
    """Before: each mail gave templates of its own ("3yb4gF6pDRz2dZ5: <*>", the queue id kept), and with the id
    masked "client=...", "message-id=..." and "removed" were still one template "<*>: <*>" (50 % alike)."""
    log = tmp_path / "mail.log"
    ids = _postfix_log(log, 200)
    config = LogBertConfig().with_overrides({"window.session_pattern": QUEUE_ID, "parser.format": "syslog"})
    summary = parse(log, config)
    assert sorted(summary.templates) == sorted([
        "<*>: client=<*>[<*>]",
        "<*>: message-id=<*>",
        "<*>: from=<*>, size=<*>, nrcpt=<*> (queue active)",
        "<*>: to=<*>, relay=<*>[<*>]:<*>, dsn=<*>, status=sent (<*> OK)",
        "<*>: removed",
    ])
    assert not any(qid in t for qid in ids for t in summary.templates)
    without = parse(log, config.with_overrides({"window.session_pattern": None, "window.session_id": "hdfs_block"}))
    assert len(without.templates) > 100  # what a new user got: the queue id kept in the templates


def test_the_generic_masks_take_hex_ids_and_hosts_given_with_their_address() -> None:
    masker = Masker(default_masks("syslog"))
    assert masker.mask("62D82C07CD: removed; image 3f2a9c1b pulled") == "<*>: removed; image <*> pulled"
    assert masker.mask("deadbeef facade 12345678 abc_62D82C07CD") == "deadbeef facade <*> abc_62D82C07CD"
    # a host named with its address is a value like it ("unknown": no reverse DNS)
    assert masker.mask("client=mail.example.org[192.0.2.7] from unknown[10.1.2.3]") == "client=<*>[<*>] from <*>[<*>]"


def test_two_token_messages_that_share_only_a_value_stay_apart() -> None:
    parser = LogParser(ParserConfig(format="raw"))
    keys = parser.fit_transform(["17: removed", "18: started", "19: removed", "task=3 received", "task=4 done"])
    assert parser.templates_[keys[0]] == "<*>: removed" and keys[0] == keys[2] != keys[1]
    assert keys[3] == keys[4] and parser.templates_[keys[3]] == "task=<*> <*>"  # a shared word still merges


def test_train_and_score_a_mail_log_with_its_queue_ids(tmp_path: Path) -> None:
    """End to end: the artifact's parser carries the rule, so scoring (and the service, which loads the same
    parser) masks as training did; deferred mails are found."""
    torch.set_num_threads(1)
    train_log, test_log = tmp_path / "train.log", tmp_path / "test.log"
    _postfix_log(train_log, 60, seed=1)
    test_ids = _postfix_log(test_log, 40, seed=2, deferred=4)
    overrides = {"window.session_pattern": QUEUE_ID, "parser.format": "syslog", "model.n_layers": 1,
                 "model.d_model": 16, "model.d_ff": 32, "train.epochs": 3, "train.min_steps": 30,
                 "scoring.calibration": "split", "train.test_fraction": 0.0}
    config = api.load_config(None, overrides)
    result = api.train(train_log, tmp_path / "art", config, progress=False)
    assert result.n_templates == 5
    state = json.loads((tmp_path / "art" / "parser.json").read_text())
    assert state["masks"][0]["name"] == "session_id" and state["masks"][0]["group"] == 1
    detector = api.load_detector(tmp_path / "art")
    scored = {s.session_id: s for s in api.score(detector, test_log)}
    assert set(scored) == set(test_ids)
    assert {q for q in test_ids[-4:] if scored[q].is_anomaly} == set(test_ids[-4:])  # the deferred mails
    assert sum(scored[q].is_anomaly for q in test_ids[:-4]) <= 2
