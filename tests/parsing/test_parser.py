"""Masking, golden template tests on real OpenStack lines, fast path, state round trip."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from logbert.config import MaskRule, ParserConfig
from logbert.errors import InputDataError, NotFittedError
from logbert.parsing.drain import FORMAT_DEFAULTS, drain_settings
from logbert.parsing.headers import BUILTIN_FORMATS, HeaderParser
from logbert.parsing.masking import Masker, default_masks
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import read_log
from logbert.records import UNK_KEY
from tests.conftest import dataset_path

UUID = "b9000564-fe1a-409b-b8cc-1e88b294cd1d"


def test_openstack_masks_values_and_keeps_words() -> None:
    m = Masker(default_masks("openstack"))
    assert m.mask(f"[instance: {UUID}] VM Paused (Lifecycle Event)") == "[instance:<*>] VM Paused (Lifecycle Event)"
    assert (
        m.mask('10.11.10.1 "GET /v2/54fadb412c4e40cd/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829')
        == '<*> "GET <*> HTTP/<*>" status: <*> len: <*> time: <*>'
    )
    assert m.mask("phys_ram=64172MB used_ram=2560MB phys_disk=15GB") == "phys_ram=<*> used_ram=<*> phys_disk=<*>"
    assert (
        m.mask("Removable base files: /var/lib/nova/instances/_base/a489c868f0c37da93b76227c91bb03908ac0e742")
        == "Removable base files: <*>"
    )
    assert m.mask(f"Creating event network-vif-plugged:{UUID} for instance {UUID}") == (
        "Creating event network-vif-plugged:<*> for instance <*>"
    )


def test_hdfs_and_generic_masks() -> None:
    m = Masker(default_masks("hdfs"))
    masked = m.mask("BLOCK* ask 10.250.14.224:50010 to delete  blk_-1 blk_22 blk_3")
    assert masked == "BLOCK* ask <*> to delete  blk_<*>"
    g = Masker(default_masks("raw"))
    assert g.mask("eth0 up at 0x1f after 12 tries") == "eth0 up at <*> after <*> tries"
    custom = Masker([MaskRule(name="user", pattern=r"user \w+", replacement="user <U>")])
    assert custom.mask("session opened for user root") == "session opened for user <U>"


def test_format_defaults_and_overrides() -> None:
    assert drain_settings(ParserConfig(format="openstack")).depth == FORMAT_DEFAULTS["openstack"][1]
    assert drain_settings(ParserConfig()).depth == FORMAT_DEFAULTS["raw"][1]
    explicit = drain_settings(ParserConfig(format="openstack", drain_depth=4, drain_sim_th=0.7))
    assert (explicit.depth, explicit.sim_th) == (4, 0.7)


def _golden_contents() -> list[str]:
    path = dataset_path("openstack/deeplog_openstack/openstack_normal1.instance_lines.log")
    lines, _ = read_log(path, ParserConfig(format="openstack"))
    return [line.content for line in lines]


LIFECYCLE = ["VM Started", "VM Paused", "VM Resumed", "VM Stopped"]
DISTINCT_EVENTS = [
    *[f"] {e} (Lifecycle Event)" for e in LIFECYCLE],
    "] Instance spawned successfully.",
    "] Instance destroyed successfully.",
    "seconds to spawn the instance on the hypervisor.",
    "seconds to destroy the instance on the hypervisor.",
    "seconds to build instance.",
    "seconds to deallocate network for instance.",
    "] Total memory:",
    "] Total disk:",
    "] Total vcpu:",
    "] memory limit:",
    "] disk limit not specified",
    "] vcpu limit not specified",
    "] Claim successful",
    "] Terminating instance",
]


def test_golden_openstack_distinct_events_get_distinct_templates() -> None:
    contents = _golden_contents()
    parser = LogParser(ParserConfig(format="openstack"))
    keys = parser.fit_transform(contents)
    keys_of: dict[str, set[int]] = defaultdict(set)
    for content, key in zip(contents, keys, strict=True):
        for marker in DISTINCT_EVENTS:
            if marker in content:
                keys_of[marker].add(key)
    assert set(keys_of) == set(DISTINCT_EVENTS)  # every event occurs in the real file
    # lines that differ only in ids and numbers share one template ...
    assert all(len(k) == 1 for k in keys_of.values()), {m: k for m, k in keys_of.items() if len(k) != 1}
    # ... and different events never share one
    all_keys = [next(iter(k)) for k in keys_of.values()]
    assert len(set(all_keys)) == len(all_keys)
    started = parser.templates_[next(iter(keys_of["] VM Started (Lifecycle Event)"]))]
    assert started == "[instance:<*>] VM Started (Lifecycle Event)"


def test_golden_openstack_ids_and_numbers_share_a_template() -> None:
    a = f"[instance: {UUID}] Took 19.84 seconds to spawn the instance on the hypervisor."
    b = "[instance: 0c7b1b3a-2d9f-4bd4-9f4e-7b7c9c1e2a11] Took 2.10 seconds to spawn the instance on the hypervisor."
    c = f"[instance: {UUID}] Took 0.31 seconds to destroy the instance on the hypervisor."
    d = '10.11.10.1 "GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.25'
    e = '10.11.10.2 "GET /v2/e9746973ac574c6b8a9e8857f56a7608/servers/detail HTTP/1.1" status: 404 len: 77 time: 1.5'
    f = '10.11.10.1 "POST /v2/54fadb412c4e40cd/os-server-external-events HTTP/1.1" status: 200 len: 380 time: 0.1'
    keys = LogParser(ParserConfig(format="openstack")).fit_transform([a, b, c, d, e, f])
    assert keys == [0, 0, 1, 2, 2, 3]


OUTCOME_LINES = [
    "task=1 received",
    "task=2 acked",
    "task=3 received",
    "task=4 failed",
    "task=5 acked",
    "Job started",
    "Job FAILED:",
    "Job finished",
    "Mounting NFS filesystems: succeeded",
    "Mounting other filesystems: failed",
]


def test_an_outcome_word_is_never_a_parameter() -> None:
    """With sim_th 0.5 Drain merges two-token messages that differ in one word; a failure must not hide in
    a wildcard (``task=<*> <*>``), neither when mining nor when matching later lines."""
    parser = LogParser()
    keys = parser.fit_transform(OUTCOME_LINES)
    templates = [parser.templates_[k] for k in keys]
    assert templates[:8] == [
        "task=<*> <*>", "task=<*> <*>", "task=<*> <*>", "task=<*> failed", "task=<*> <*>",
        "Job <*>", "Job FAILED:", "Job <*>",
    ]
    assert templates[8] != templates[9] and "<*>" not in templates[8] + templates[9]
    # frozen: a known failure maps to its own template, an unseen one is UNK, not the generic template
    assert parser.transform(["task=9 failed", "task=9 received", "task=9 timeout", "Job error"]) == [
        keys[3], keys[0], UNK_KEY, UNK_KEY,
    ]
    # the same templates with and without the cache of masked contents, and after a round trip
    plain = LogParser(ParserConfig(cache_size=0, n_jobs=1))
    assert plain.fit_transform(OUTCOME_LINES) == keys and plain.templates_ == parser.templates_
    restored = LogParser.from_dict(json.loads(json.dumps(parser.to_dict())))
    assert restored.transform(["task=9 timeout", "task=9 failed"]) == [UNK_KEY, keys[3]]


def test_outcome_words_are_a_setting() -> None:
    off = LogParser(ParserConfig(outcome_words=()))
    assert len(set(off.fit_transform(OUTCOME_LINES))) == 3  # drain3's rule: task=<*> <*>, Job <*>, Mounting ...
    assert off.transform(["task=9 timeout"]) == [off.transform(["task=9 received"])[0]]
    own = LogParser(ParserConfig(outcome_words=("Acked",)))  # the user's list replaces the built-in one
    keys = own.fit_transform(OUTCOME_LINES)
    assert keys[1] != keys[0] and keys[3] == keys[0]  # acked apart (in any case); failed merged again
    assert own.to_dict()["drain"]["outcome_words"] == ["acked"]


def test_package_versions_are_values_in_the_generic_masks() -> None:
    """dpkg.log (a Debian machine's, as logged): the number rule cut each version into pieces and left its release
    suffix (``<*>-<*>+deb12u10``), a template per release: 4 templates for these lines without the version rule."""
    lines = [
        f"status {state} {package} {version}"
        for state, package, version in [
            ("triggers-pending", "libc-bin:amd64", "2.36-9+deb12u10"),
            ("half-configured", "libsystemd0:amd64", "252.36-1~deb12u1"),
            ("unpacked", "libsystemd0:amd64", "252.38-1~deb12u1"),
            ("installed", "libudev1:amd64", "252.38-1~deb12u1"),
            ("half-configured", "libc-bin:amd64", "2.36-9+deb12u10"),
            ("half-installed", "perl-modules-5.36:all", "5.36.0-7+deb12u2"),
            ("unpacked", "perl-modules-5.36:all", "5.36.0-7+deb12u2"),
            ("installed", "python3-crcmod:amd64", "1.7+dfsg-3+b3"),
        ]
    ]
    parser = LogParser(ParserConfig(format="raw"))
    assert len(set(parser.fit_transform(lines))) == 1
    assert parser.templates_ == ["status <*> <*> <*>"]  # the states merge: see the next test


def test_a_separator_standing_alone_is_no_evidence_of_one_event() -> None:
    """A Spring Boot log read with the header up to the thread (the logger left in the content, where it routes
    Drain's tree): a request's start and end share the logger, the colon and the request id, 3 of 6 tokens, and
    were one template. A separator standing alone no longer counts; a masked time (``<*>:<*>``) is a value and does."""
    lines = []
    for i in range(6):
        lines += [
            f"c.e.shop.web.OrderController : [req=a{i}f3] POST /api/orders customer={i}",
            f"c.e.shop.web.OrderController : [req=a{i}f3] 201 in {10 + i}ms",
        ]
    parser = LogParser(ParserConfig(format="raw"))
    keys = parser.fit_transform(lines)
    assert keys[0::2] == [keys[0]] * 6 and keys[1::2] == [keys[1]] * 6 and keys[0] != keys[1]
    # Thunderbird 2k's two driver release lines, one event in loghub's truth: 5 of 9 tokens alike, among them the
    # masked times <*>:<*>:<*> and the <*>), which stay values (a rule that took them for separators split them)
    release = [
        "#38#-rh1 (Release Date: Fri Dec 10 19:02:14 EST 2004)",
        "#39# (Release Date: Mon Sep 27 22:15:07 EDT 2004)",
    ]
    assert len(set(LogParser(ParserConfig(format="thunderbird")).fit_transform(release))) == 1


def test_extra_outcome_words_add_a_logs_own_states_to_the_list() -> None:
    """dpkg's "status STATE PACKAGE VERSION": two states are one word apart, and Drain merged them into one
    template; added words (in any case) keep them apart, and the built-in words stay (a user need not repeat them)."""
    lines = [f"status {state} pkg{i}:amd64 1.{i}-2+deb12u1" for i in range(6) for state in ("installed", "unpacked")]
    lines += ["task=1 received", "task=2 failed"]
    merged = LogParser(ParserConfig()).fit_transform(lines)
    assert merged[0] == merged[1]  # installed and unpacked: one key
    parser = LogParser(ParserConfig(extra_outcome_words=("INSTALLED", "unpacked")))
    keys = parser.fit_transform(lines)
    assert keys[0::2][:6] == [keys[0]] * 6 and keys[1::2][:6] == [keys[1]] * 6 and keys[0] != keys[1]
    assert keys[-1] != keys[-2]  # "failed", a built-in word, still apart
    assert {"installed", "unpacked", "failed"} <= set(parser.to_dict()["drain"]["outcome_words"])  # the artifact's
    own = LogParser(ParserConfig(outcome_words=("received",), extra_outcome_words=("installed",)))
    assert own.fit(lines).to_dict()["drain"]["outcome_words"] == ["installed", "received"]


def test_numeric_outcome_words_are_not_masked_so_their_lines_stay_apart() -> None:
    """An HTTP status in an access log behind syslog ("... 0/0/1/12/13 503 237 ..."): the number rule made "200" and
    "503" one value, every line one template, and extra_outcome_words=["503"] did nothing (masked before Drain saw
    it). A listed word with a digit is now left by every mask, in mask(), mask_tokens() and a saved parser alike."""
    lines = [f"10.0.3.{i}:5{i:04d} fe_http be_api/srv{i % 3} 0/0/1/{i}/{i + 1} {code} {300 + i} - - ----"
             for i in range(12) for code in ("200", "503")]
    assert len(set(LogParser(ParserConfig()).fit_transform(lines))) == 1  # the status is a number like any other
    parser = LogParser(ParserConfig(extra_outcome_words=("200", "503")))
    keys = parser.fit_transform(lines)
    assert keys[0::2] == [keys[0]] * 12 and keys[1::2] == [keys[1]] * 12 and keys[0] != keys[1]
    assert "503" in parser.templates_[keys[1]].split() and "<*>" in parser.templates_[keys[1]]  # other numbers masked
    saved = LogParser.from_dict(json.loads(json.dumps(parser.to_dict())))
    assert saved.transform(lines) == keys  # a saved artifact keeps the words as the fitted parser did
    # the first such token of a line only: a size after the status that equals a listed code stays a value (a 304-byte
    # answer became a template training never saw); a code inside a token (timers "0/0/200/12") is a value too
    masker = Masker(default_masks("raw"), keep={"200", "304", "503"})
    line = "GET /x 0/0/200/12 304 200 ms"
    tokens = masker.mask_tokens(line)
    assert masker.mask(line) == "GET /x <*>/<*>/<*>/<*> 304 <*> ms" == masker.mask_many([line])[0]
    assert tokens is not None and tokens[0] == masker.mask(line).split() and tokens[1][3:5] == ["304", "200"]


def test_a_parser_state_saved_before_outcome_words_matches_as_before() -> None:
    """Artifacts mined without the rule keep their keys: their templates may hold a wildcard where an outcome
    word stands, and matching must not turn those lines into UNK."""
    state = LogParser(ParserConfig(outcome_words=())).fit(OUTCOME_LINES).to_dict()
    del state["drain"]["outcome_words"]
    old = LogParser.from_dict(json.loads(json.dumps(state)))
    assert old.transform(["task=9 timeout", "task=9 received"]) == [0, 0]


def test_transform_is_frozen_and_counts_unknown() -> None:
    parser = LogParser(ParserConfig(format="openstack")).fit([f"[instance: {UUID}] VM Started (Lifecycle Event)"])
    assert parser.transform([f"[instance: {UUID}] VM Started (Lifecycle Event)", "brand new event", "other"]) == [
        0,
        UNK_KEY,
        UNK_KEY,
    ]
    assert parser.n_unknown_ == 2 and len(parser.templates_) == 1
    assert parser.transform_one("[instance: x] VM Started (Lifecycle Event)") == 0


def test_not_fitted_and_empty() -> None:
    with pytest.raises(NotFittedError):
        LogParser().transform(["x"])
    with pytest.raises(NotFittedError):
        LogParser().to_dict()
    with pytest.raises(InputDataError):
        LogParser().fit([])
    with pytest.raises(InputDataError):
        LogParser.from_dict({"version": 99})


@pytest.mark.parametrize(
    ("fmt", "relative"),
    [
        ("openstack_devstack", "openstack/kalaki_devstack/openstack-nova-sample.log"),
        ("bgl", "bgl/loghub_2k/BGL_2k.log"),
        ("thunderbird", "thunderbird/loghub_2k/Thunderbird_2k.log"),
    ],
)
def test_fast_path_on_off_same_keys_and_state_round_trip(fmt: str, relative: str) -> None:
    lines, _ = read_log(dataset_path(relative), ParserConfig(format=fmt))  # type: ignore[arg-type]
    contents = [line.content for line in lines]
    fast = LogParser(ParserConfig(format=fmt))  # type: ignore[arg-type]
    plain = LogParser(ParserConfig(format=fmt, cache_size=0, n_jobs=1))  # type: ignore[arg-type]
    keys = fast.fit_transform(contents)
    assert keys == plain.fit_transform(contents)
    assert fast.templates_ == plain.templates_
    assert sorted(set(keys)) == list(range(len(fast.templates_)))  # 0..K-1, no UNK on training data
    first_seen = list(dict.fromkeys(keys))
    assert first_seen == sorted(first_seen)  # key ids in order of first appearance
    restored = LogParser.from_dict(json.loads(json.dumps(fast.to_dict())))
    assert restored.templates_ == fast.templates_
    assert restored.transform(contents) == keys
    probe = ["never seen before at all", *contents[::7]]
    assert restored.transform(probe) == fast.transform(probe)
    # the rebuilt Drain tree is the same: fitting further gives the same templates
    more = contents[: len(contents) // 2]
    assert restored._miner.state() == fast._miner.state()
    for m in more:
        restored._miner.add(restored.mask(m))
        fast._miner.add(fast.mask(m))
    assert restored._miner.state() == fast._miner.state()


def test_parallel_masking_gives_same_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import logbert.parsing.parser as parser_module

    lines, _ = read_log(dataset_path("hdfs/loghub_2k/HDFS_2k.log"), ParserConfig(format="hdfs"))
    contents = [line.content for line in lines]
    plain = LogParser(ParserConfig(format="hdfs", cache_size=0, n_jobs=1)).fit_transform(contents)
    monkeypatch.setattr(parser_module, "PARALLEL_MIN_LINES", 100)
    parallel = LogParser(ParserConfig(format="hdfs", n_jobs=2))
    assert parallel.fit_transform(contents) == plain
    assert parallel.transform(contents) == plain


def test_header_parser_and_masker_compile_once() -> None:
    hp = HeaderParser(BUILTIN_FORMATS["hdfs"])
    assert hp._regex is HeaderParser.__dict__.get("_regex", hp._regex)
    m = Masker(default_masks("openstack"))
    compiled = [r for r, _ in m._compiled]
    m.mask("x 1")
    assert [r for r, _ in m._compiled] == compiled


def test_auto_workers_leaves_busy_cores_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import logbert.parsing.parser as parser_module

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    for load, expected in [(0.2, 2), (1.5, 2), (2.4, 1), (11.0, 1)]:
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert parser_module.auto_workers() == expected


def test_parameters_are_read_with_drains_extra_delimiters() -> None:
    """HAProxy's timers "0/0/1/9/11" with ``drain_extra_delimiters = ["/"]``: Drain splits the masked content at
    "/", the values were read split at whitespace alone, the tokens never lined up with the template, and every value
    of every line was lost (63 slots typed "id"; train: "the data has no values")."""
    lines = [f"fe_web be_api/api{i % 3} {i % 2}/0/1/{9 + i}/{11 + i} 200" for i in range(12)]
    parser = LogParser(ParserConfig(format="syslog", drain_extra_delimiters=("/",))).fit(lines)
    (key,) = set(parser.transform(lines))
    assert parser.parameters(lines[5], key)[-6:] == ["1", "0", "1", "14", "16", "200"]
    plain = LogParser(ParserConfig(format="syslog")).fit(lines)  # without the delimiter: the timers are one value
    assert "1/0/1/14/16" in plain.parameters(lines[5], plain.transform_one(lines[5]))
