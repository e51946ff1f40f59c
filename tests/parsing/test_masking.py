"""The built-in masks are written for speed (no leading lookbehind); check them against the
plain lookbehind-first form of each rule, on real contents and on random strings."""

from __future__ import annotations

import functools
import random
import re

import pytest

from logbert.config import ParserConfig
from logbert.parsing.masking import Masker, default_masks
from logbert.parsing.reader import read_log
from tests.conftest import dataset_path

_B = r"(?<![A-Za-z0-9_.])"
_E = r"(?![A-Za-z0-9_])"
# rule name -> the pattern as first written: boundary lookbehind first.
REFERENCE = {
    "ip": _B + r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:,\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?)*" + _E,
    "hex": _B + r"0x[0-9a-fA-F]+" + _E,
    "host_of_ip": r"(?<![\w.-])[A-Za-z0-9][\w.-]*(?=\[\d{1,3}(?:\.\d{1,3}){3}\])",
    "hex_id": _B + r"(?=[0-9A-Fa-f]*[0-9])(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{8,}" + _E,
    "hash": _B + r"[0-9a-f]{16,}" + _E,
    "version": r"(?<![A-Za-z0-9_.+~:-])(?=[\w.+~:-]*[A-Za-z])(?=[\w.+~:-]*[.+~])\d[\w.+~:-]*[A-Za-z0-9]" + _E,
    "size": _B + r"\d+(?:\.\d+)?(?:[KMGTP]i?B|[kKMG]b?|bytes|ms|us|s|h)" + _E,
    "number": _B + r"[-+]?\d+(?:\.\d+)*" + _E,
    "path": r"(?<![^\s\"'(=:\[])/[^\s\"')\]]*",
    "key_value": r"(?<=\w)=(?:[^\s,;&\"'()\[\]{}<>=]*\d[^\s,;&\"'()\[\]{}<>=]*|/[^\s,;&\"'()\[\]{}<>=]*"
    r"|<[^\s<>]*[\d@][^\s<>]*>)",
}
FORMATS = ("openstack", "hdfs", "bgl", "thunderbird", "raw")
FILES = [
    ("openstack", "openstack/loghub_2k/OpenStack_2k.log"),
    ("openstack_devstack", "openstack/kalaki_devstack/openstack-nova-sample.log"),
    ("hdfs", "hdfs/loghub_2k/HDFS_2k.log"),
    ("bgl", "bgl/loghub_2k/BGL_2k.log"),
    ("thunderbird", "thunderbird/loghub_2k/Thunderbird_2k.log"),
]


def _rules() -> dict[str, str]:
    rules = {r.name: r.pattern for fmt in FORMATS for r in default_masks(fmt)}  # type: ignore[arg-type]
    assert set(REFERENCE) <= set(rules)
    return rules


@functools.cache
def _samples() -> tuple[str, ...]:
    out: list[str] = []
    for fmt, relative in FILES:
        lines, _ = read_log(dataset_path(relative), ParserConfig(format=fmt))  # type: ignore[arg-type]
        out += [line.content for line in lines[:3000]]
    rng = random.Random(5)
    # single characters (one a non-ASCII digit) and whole values, glued in random orders
    atoms = [
        *"0123456789abcfxAFBMGKs.-+_:,/ =\"'([])<>*\té١@",
        "10.250.19.102:50010",
        "[10.0.0.9]",
        "2.36-9+deb12u10",
        "1:2.3-4~bpo1",
        "3.5s",
        "1.2.3.4",
        "0x1fA",
        "a489c868f0c37da93b76227c91bb03908ac0e742",
        "54fadb412c4e40cd",
        "2560MB",
        "0.5s",
        "120ms",
        "15GiB",
        "-12",
        "+7",
        "3.14.15",
        "/var/lib/nova",
        "blk_",
        "ext3",
        "job=J1007",
        "&id=",
    ]
    out += ["".join(rng.choice(atoms) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    return tuple(out)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_fast_pattern_equals_lookbehind_first_form(name: str) -> None:
    fast, reference = re.compile(_rules()[name]), re.compile(REFERENCE[name])
    for s in _samples():
        assert fast.sub("<*>", s) == reference.sub("<*>", s), s


def test_whole_rule_sets_on_real_contents() -> None:
    samples = _samples()[:-20_000]
    for fmt in FORMATS:
        fast = Masker(default_masks(fmt))  # type: ignore[arg-type]
        ref = [re.compile(REFERENCE.get(r.name, r.pattern)) for r in fast.rules]
        for s in samples:
            expected = s
            for rx, rule in zip(ref, fast.rules, strict=True):
                expected = rx.sub(rule.replacement, expected)
            assert fast.mask(s) == expected


@pytest.mark.parametrize(
    ("content", "masked"),
    [
        ("runner - job=J1007 started on worker-6", "runner - job=<*> started on worker-<*>"),
        ('duration=12ms state=ACTIVE msg="took 5 s"', 'duration=<*> state=ACTIVE msg="took <*> s"'),
        ("GET /a?id=123&x=abc9 HTTP/1.1", "GET /a?id=<*>&x=<*> HTTP/<*>"),
        ("a == 3 and level=info", "a == <*> and level=info"),
        # a path is a value too, and sudo's user before its fields: one template per command, not per user
        ("    dave : TTY=pts/4 ; PWD=/home/dave ; USER=root ; COMMAND=/usr/bin/apt update",
         "<*> : TTY=<*> ; PWD=<*> ; USER=root ; COMMAND=<*> update"),
        ("deploy : PWD=/srv/app ; USER=root ; COMMAND=/bin/ls", "<*> : PWD=<*> ; USER=root ; COMMAND=<*>"),
        ("alice : a note, not sudo's fields", "alice : a note, not sudo's fields"),
    ],
)
def test_generic_masks_take_the_value_of_a_key_value_pair_with_a_digit(content: str, masked: str) -> None:
    assert Masker(default_masks("raw")).mask(content) == masked


@pytest.mark.parametrize("fmt", ["raw", "syslog"])
def test_the_kernels_time_since_boot_is_one_value_below_and_above_ten_thousand_seconds(fmt: str) -> None:
    """Right-aligned in its brackets, it has a space inside up to 9,999 s and none after: every kernel message had
    two templates, and a host up longer than 2.8 hours wrote only the one training had not seen."""
    masker = Masker(default_masks(fmt))  # type: ignore[arg-type]
    early, late = "[    5.123456] usb 1-1: USB disconnect, device number 3", "[12345.678901] usb 1-1: USB disconnect"
    assert masker.mask(early).split()[0] == masker.mask(late).split()[0] == "<*>"
    assert masker.mask(early).split()[1] == "usb"


def test_a_date_with_the_months_name_is_one_value() -> None:
    """HAProxy's accept date in its syslog line: "Dec" was a template word, and every January line was never seen."""
    masker = Masker(default_masks("syslog"))
    december = masker.mask("10.0.3.26:43759 [02/Dec/2026:10:00:00.084] fe_web be_api/api1")
    assert december == masker.mask("10.0.3.26:43759 [31/Jan/2027:23:59:59.999] fe_web be_api/api1")
    assert "[<*>]" in december and "Dec" not in december
    assert masker.mask("paid on 2-Dec-2026 10:00:01 +0000 ok") == "paid on <*> ok"
