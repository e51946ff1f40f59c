"""Masking: replace the variable parts of a line's content before template mining.

Rules run in order, each a compiled regex substitution. They are ordered from the most specific
(an OpenStack ``[instance: <uuid>]`` prefix, UUIDs, IPs, paths) to the most generic (numbers),
so that a specific rule sees its text before a generic one cuts it into pieces.

The rules only remove values. Words that carry the meaning of an event (lifecycle verbs such as
``Started``/``Paused``, states, component names, HTTP verbs) are never touched, so two different
events keep different masked text; lines that differ only in ids and numbers become identical,
which is also what makes the parser's masked-content cache effective.

Per-format choices (see :func:`default_masks`): OpenStack masks instance and request ids, IPs,
paths, hashes, sizes and durations. HDFS masks block ids, IPs and numbers; BGL and Thunderbird
mask ids, IPs, hex values and numbers that stand alone; ``raw`` uses the union of the generic
rules, and the value of a ``key=value`` pair that holds a digit (``job=J1007``, ``duration=12ms``).
Other numbers glued to letters (``ext3``, ``eth0``) are left to Drain, which treats any token
holding a digit as a variable when it builds its prefix tree (but not when it compares a line with
a template: a per-job id after ``job=`` gave each job templates of its own).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence

from logbert.config import FormatName, MaskRule

_BATCH = 4096  # contents per batch in Masker.mask_many
#: punctuation a mask's match may carry around a kept word ("503,")
_AROUND_A_VALUE = ".,;:()[]{}\"'"
# Masker.mask_tokens writes each replacement as one character of the Supplementary Private Use
# Area-A (no log holds them; no rule's pattern matches them as a letter, digit or space).
_STAND_IN = 0xF0000
#: a kept word's place while the rules run (:meth:`Masker.mask`): a private-use character below the stand-ins
_PROTECTED = chr(_STAND_IN - 1)
_TOKEN = re.compile(r"\S+")
_MAX_STAND_INS = 0xFFFD
_STAND_INS = re.compile("[\U000F0000-\U000FFFFD]")

# Boundaries: a value starts and ends where there is no letter, digit, dot or underscore, so
# "blk_-12" or "ext3" are not cut in the middle of a word. The start test is written after the
# value's first character: `(?<![A-Za-z0-9_.].)` looks at the character before that one, the
# same condition as a leading `(?<![A-Za-z0-9_.])`. A pattern that starts with a character set
# or a literal lets `re` jump to the candidate positions with a fast scan; one that starts with
# a lookbehind is tried at every position of the content (about 3x slower on HDFS for numbers).
# tests/parsing/test_masking.py checks each pattern against its lookbehind-first form.
_AFTER_FIRST = r"(?<![A-Za-z0-9_.].)"
_E = r"(?![A-Za-z0-9_])"

_UUID = MaskRule(
    name="uuid",
    pattern=r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
)
_IP = MaskRule(
    name="ip",
    pattern=r"\d" + _AFTER_FIRST + r"\d{0,2}(?:\.\d{1,3}){3}(?::\d+)?(?:,\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?)*" + _E,
)
_HEX = MaskRule(name="hex", pattern="0" + _AFTER_FIRST + r"x[0-9a-fA-F]+" + _E)
_HASH = MaskRule(name="hash", pattern="[0-9a-f]" + _AFTER_FIRST + r"[0-9a-f]{15,}" + _E)  # sha1 image names, 32-hex ids
# Sizes and durations with a unit glued on: 2560MB, 15GB, 0.5s, 120ms.
_SIZE = MaskRule(
    name="size", pattern=r"\d" + _AFTER_FIRST + r"\d*(?:\.\d+)?(?:[KMGTP]i?B|[kKMG]b?|bytes|ms|us|s|h)" + _E
)
# An optional sign, then digits (and dotted groups of digits): the first character is a sign or
# a digit, and after a sign at least one digit must follow.
_NUM = MaskRule(name="number", pattern=r"[-+\d]" + _AFTER_FIRST + r"(?:(?<=[-+])\d+|(?<=\d)\d*)(?:\.\d+)*" + _E)

_OPENSTACK: tuple[MaskRule, ...] = (
    # One fixed token: the instance is a session id, not part of the event, and a single token
    # keeps the event words within reach of Drain's prefix tree.
    MaskRule(name="instance", pattern=r"\[instance: [^\]]*\]", replacement="[instance:<*>]"),
    MaskRule(name="request", pattern=r"req-" + _UUID.pattern),
    _UUID,
    _IP,
    # Absolute paths (image caches, instance dirs, URLs of API calls) after a space, quote,
    # bracket, '=' or ':', or at the start.
    MaskRule(name="path", pattern=r"/(?<![^\s\"'(=:\[]/)[^\s\"')\]]*"),
    _HASH,
    _HEX,
    # "2017-05-16 00:00:00" in audit lines: one wildcard rather than six.
    MaskRule(name="datetime", pattern=r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?"),
    _SIZE,
    _NUM,  # sizes (MB, GB, len:), durations (Took N seconds, time:), counts, status codes
)

_HDFS: tuple[MaskRule, ...] = (
    # "ask <ip> to delete blk_1 blk_2 ...": a list of any length is one value.
    MaskRule(name="block", pattern=r"blk_-?\d+(?:\s+blk_-?\d+)*", replacement="blk_<*>"),
    _IP,
    _NUM,
)

_BGL: tuple[MaskRule, ...] = (
    MaskRule(name="core", pattern=r"core\.\d+", replacement="core.<*>"),
    _IP,
    _HEX,
    _NUM,
)

_THUNDERBIRD: tuple[MaskRule, ...] = (_UUID, _IP, _HEX, _NUM)

# The value of a ``key=value`` pair that holds a digit (logfmt, ``job=J1007``, ``duration=12ms``, ``host=web-3``):
# an id, a size or a version glued to letters, which the number rule leaves whole. Drain does not generalise
# such a token on its own: two lines that differ in it and in one more position stay apart, so each job or
# host got templates of its own. A value without a digit (``state=ACTIVE``) is a word and stays; a quoted one
# is not touched. A value that starts with "/" is a path (sudo's ``PWD=/home/dave``, ``COMMAND=/usr/bin/apt``):
# one per user and command, so an auth log's sudo lines had a template per combination training never saw all of.
_KEY_VALUE = MaskRule(
    name="key_value",
    # or one in angle brackets that holds a digit or an @ (Postfix's message-id=<1f2e@host>, from=<root@host>)
    pattern=r"=(?<=\w=)(?:[^\s,;&\"'()\[\]{}<>=]*\d[^\s,;&\"'()\[\]{}<>=]*|/[^\s,;&\"'()\[\]{}<>=]*"
    r"|<[^\s<>]*[\d@][^\s<>]*>)",
    replacement="=<*>",
)
# The user sudo names first (``    dave : TTY=pts/4 ; PWD=... ; USER=root ; COMMAND=...``): the first word of the
# content routes a line through Drain's tree, so each user's sudo lines had templates of their own.
_SUDO_USER = MaskRule(name="sudo_user", pattern=r"^\s*[^\s:]+(?= : (?:TTY|PWD|USER|COMMAND)=)")

# A hexadecimal id of 8 or more digits with at least one digit 0-9 and one letter A-F, in either case (Postfix's
# queue id 62D82C07CD, a short commit or container id 3f2a9c1b): the number rule leaves it whole, and with a
# session id no pattern names, each id gave templates of its own. All letters (``deadbeef``, ``facade``) or all
# digits (the number rule's) are not taken.
_HEX_ID = MaskRule(
    name="hex_id",
    pattern=r"(?:[0-9]" + _AFTER_FIRST + r"(?=[0-9A-Fa-f]*[A-Fa-f])|[A-Fa-f]" + _AFTER_FIRST + r"(?=[0-9A-Fa-f]*[0-9]))"
    r"[0-9A-Fa-f]{7,}" + _E,
)

# A host name given with its address, ``mail.example.org[192.0.2.7]`` (Postfix, sendmail, many daemons' "from
# host[ip]"): the name is a value like the address; "unknown" (no reverse DNS) too. Before the ip rule, which would
# hide the address it is recognised by.
_HOST_OF_IP = MaskRule(
    name="host_of_ip",
    pattern=r"[A-Za-z0-9](?<![\w.-].)[\w.-]*(?=\[\d{1,3}(?:\.\d{1,3}){3}\])",
)

# A value that starts with a digit and holds a letter and a dot, plus or tilde: package and kernel versions
# (dpkg's ``2.36-9+deb12u10``, ``1:2.3-4~bpo1``, ``5.10.0-21-amd64``), decimals with a unit (``3.5s``, ``2.5GB``), a
# time with a zone (``14:36:25.123Z``). The number rule cuts such a token into pieces (``<*>-<*>+deb12u10``), and
# the letters left over made a template per release. It starts only where such a token starts (not after a "-",
# "+", "~" or ":" inside one): the lookaheads read to the token's end, and from every digit of "1-1-1-..." they
# made a long junk line quadratic (0.5 s for 10,000 characters).
_VERSION = MaskRule(
    name="version",
    pattern=r"\d(?<![A-Za-z0-9_.+~:-].)(?=[\w.+~:-]*[A-Za-z])(?=[\w.+~:-]*[.+~])[\w.+~:-]*[A-Za-z0-9]" + _E,
)

#: the Linux kernel's time since boot before a message ("[    5.123456]", "[12345.678901]": dmesg, kern.log,
#: journalctl -k -o short-monotonic): one value. Right-aligned in its brackets, it has a space inside below 10,000 s
#: and none after, which split the tokens of every kernel message in two templates, one of them never seen in
#: training once a host had been up for 2.8 hours (87 of 273 windows of a fault-free kern.log flagged)
_KERNEL_UPTIME = MaskRule(name="kernel_uptime", pattern=r"\[\s*\d+\.\d+\]")
#: a date with the month's name, as the common log format writes it ("02/Dec/2026:10:00:01.123", "02/Dec/2026:10:00:01
#: +0000"; "02-Dec-2026 10:00:01"): HAProxy's accept date inside its syslog line kept "Dec" as a template word, and a
#: model trained in December read every line of January as never seen
_NAMED_MONTH_DATE = MaskRule(
    name="named_month_date",
    pattern=r"\d" + _AFTER_FIRST + r"\d?[/-](?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[/-]\d{4}"
    r"(?:[: ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)?(?: [+-]\d{4})?" + _E,
)
_RAW: tuple[MaskRule, ...] = (
    _KERNEL_UPTIME,
    _NAMED_MONTH_DATE,
    _HDFS[0],
    _UUID,
    _HOST_OF_IP,
    _IP,
    _HASH,
    _HEX,
    _SUDO_USER,
    _KEY_VALUE,  # before hex_id: message-id=<1f2e3d4c5@host> is one value
    _HEX_ID,
    _VERSION,  # before number, which would cut it up
    _NUM,
)

# Access logs (``parser.format = "access"``; the content is "METHOD target status"). The target's ids are its
# variable part: the query string as a whole (its keys and values are the client's choice), and each path segment
# that holds a digit (/items/42, /v2, /static/app.3f2a9c.js, UUIDs) or is a slug of three or more words
# (/blog/my-first-post). The status stays: it is half of the event. No number rule for that reason, and no
# path rule: the path is the other half.
_ACCESS: tuple[MaskRule, ...] = (
    MaskRule(name="query", pattern=r"\?\S*", replacement="?<*>"),
    MaskRule(name="segment_with_digit", pattern=r"(?<=/)[^/\s?]*\d[^/\s?]*"),
    MaskRule(name="slug", pattern=r"(?<=/)[^\W_]+(?:[-_][^\W_]+){2,}(?=[/\s]|$)"),
)

_DEFAULTS: dict[str, tuple[MaskRule, ...]] = {
    "openstack": _OPENSTACK,
    "openstack_devstack": _OPENSTACK,
    "hdfs": _HDFS,
    "bgl": _BGL,
    "thunderbird": _THUNDERBIRD,
    "syslog": _RAW,  # any daemon can write to syslog: the generic rules
    "syslog_iso": _RAW,
    "klog": _RAW,
    "apache_error": _RAW,
    "json": _RAW,
    "csv": _RAW,
    "logfmt": _RAW,
    "access": _ACCESS,
    "raw": _RAW,
}


def _around_group(match: re.Match[str], group: int, replacement: str) -> str:
    """The whole match with the text of ``group`` replaced (``group`` 0: ``replacement`` alone)."""
    whole, (start, end) = match.group(0), match.span(group)
    return whole[: start - match.start()] + replacement + whole[end - match.start() :]


def _substitute(rule: MaskRule) -> str | Callable[[re.Match[str]], str]:
    """What ``re.sub`` writes for each match of ``rule``: its replacement, or, for a rule on a capture group, the match
    with that group's text replaced (a group that took no part in the match: the match unchanged)."""
    if rule.group == 0:
        return rule.replacement

    def replace_group(match: re.Match[str]) -> str:
        if match.group(rule.group) is None:
            return match.group(0)
        return _around_group(match, rule.group, rule.replacement)

    return replace_group


def default_masks(format_name: FormatName | None) -> tuple[MaskRule, ...]:
    """The built-in masking rules for a format (the ``raw`` rules for None or a custom format)."""
    return _DEFAULTS.get(format_name or "raw", _RAW)


def kept_words(outcome_words: Collection[str]) -> frozenset[str]:
    """The outcome words (``parser.extra_outcome_words``) a mask could take for a value: those with a digit (an HTTP
    status, an exit code). :class:`Masker` leaves them as they are, so that Drain can keep their lines apart; words
    without a digit no mask takes, and an empty set keeps masking as fast as it was.

    >>> sorted(kept_words({"failed", "503", "200", "exit=1"}))
    ['200', '503', 'exit=1']
    """
    return frozenset(w.lower() for w in outcome_words if any(ch.isdigit() for ch in w))


def _first_kept(content: str, keep: frozenset[str]) -> tuple[int, int] | None:
    """Where the first token of ``content`` that is a kept word stands (punctuation around it aside), or None.

    The first only: a web log's status stands before its size ("... 200 304 - - ..." is a 304-byte answer), and a
    size that happens to equal a listed status must stay a value (kept everywhere, HAProxy's test answers of 304, 200
    and 500 bytes became templates training never saw: 6 false alarms of 267).

    >>> _first_kept("be_api 0/0/200/12 200 304 -", frozenset({"200", "304"}))
    (18, 21)
    """
    for m in _TOKEN.finditer(content):
        word = m.group().strip(_AROUND_A_VALUE)
        if word and word.lower() in keep:
            start = m.start() + m.group().index(word)
            return start, start + len(word)
    return None


class Masker:
    """Apply masking rules, compiled once, to line contents.

    Args:
        rules: rules applied in order; each replaces every match of its pattern.
        keep: words no rule replaces, a line's first token that is one (:func:`kept_words`: numeric outcome words, as
            an HTTP status "503" in an access log inside syslog, which the number rule made every line's one template).

    Example:
        >>> m = Masker(default_masks("openstack"))
        >>> m.mask("[instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] Took 19.84 seconds to spawn the instance")
        '[instance:<*>] Took <*> seconds to spawn the instance'
    """

    def __init__(self, rules: Iterable[MaskRule], keep: Collection[str] = ()) -> None:
        self.rules = tuple(rules)
        self.keep = frozenset(w.lower() for w in keep)
        self._compiled = [(re.compile(rule.pattern), _substitute(rule)) for rule in self.rules]

    def _protected(self, content: str) -> tuple[str, str | None]:
        """``content`` with its first kept word (:func:`_first_kept`) written as one character no rule takes, and
        that word (None: no kept word, or nothing kept)."""
        at = _first_kept(content, self.keep) if self.keep else None
        if at is None:
            return content, None
        return content[: at[0]] + _PROTECTED + content[at[1] :], content[at[0] : at[1]]

    def __reduce__(self) -> tuple[type[Masker], tuple[tuple[MaskRule, ...], frozenset[str]]]:
        # rebuilt from its rules in a worker process (a group rule's substitution is a closure, which pickle refuses)
        return Masker, (self.rules, self.keep)

    def mask(self, content: str) -> str:
        """The content with every rule applied, in order (its first kept word, if any, left as it is)."""
        content, word = self._protected(content)
        for regex, replacement in self._compiled:
            content = regex.sub(replacement, content)
        return content if word is None else content.replace(_PROTECTED, word, 1)

    def mask_tokens(self, content: str, delimiters: Sequence[str] = ()) -> tuple[list[str], list[str]] | None:
        """The masked content's tokens, and the original text behind each (for parameter values).

        Tokens are split at whitespace and at ``delimiters`` (``parser.drain_extra_delimiters``, which Drain splits
        the masked content at too: split at whitespace alone, the tokens never lined up with the template, and
        every value of every line was lost).

        Each replacement is first written as one private-use character, so that later rules see a
        single opaque character where a value was, and its original text (with any values it
        swallowed) is known. None when that stand-in would change what the rules match (the
        result is compared with :meth:`mask`) or a replacement holds whitespace.

        >>> m = Masker(default_masks("openstack"))
        >>> m.mask_tokens("[instance: abc] Took 19.84 seconds")
        (['[instance:<*>]', 'Took', '<*>', 'seconds'], ['[instance: abc]', 'Took', '19.84', 'seconds'])
        """
        values: list[str] = []
        replacements: list[str] = []
        marked, word = self._protected(content)
        for rule, (regex, _) in zip(self.rules, self._compiled, strict=True):
            if any(ch.isspace() for ch in rule.replacement):
                return None

            def stand_in(match: re.Match[str], replacement: str = rule.replacement, group: int = rule.group) -> str:
                if match.group(group) is None:  # the group took no part in this match: nothing to replace
                    return match.group(0)
                values.append(match.group(group))
                replacements.append(replacement)
                return _around_group(match, group, chr(_STAND_IN + len(values) - 1))

            marked = regex.sub(stand_in, marked)
            if len(values) >= _MAX_STAND_INS:
                return None

        def expand(text: str, table: Sequence[str]) -> str:
            return _STAND_INS.sub(lambda m: expand(table[ord(m.group(0)) - _STAND_IN], table), text)

        def tokens(text: str) -> list[str]:
            for delimiter in delimiters:  # as Drain does (drain3's get_content_as_tokens)
                text = text.replace(delimiter, " ")
            return text.split()

        if word is not None:  # the kept word back, as mask() puts it back
            marked = marked.replace(_PROTECTED, word, 1)
        marked_tokens = tokens(marked)  # a value's stand-in is one character: a delimiter inside a value stays
        masked_tokens = [_STAND_INS.sub(lambda m: replacements[ord(m.group(0)) - _STAND_IN], t) for t in marked_tokens]
        if " ".join(masked_tokens) != " ".join(tokens(self.mask(content))):
            return None
        return masked_tokens, [expand(t, values) for t in marked_tokens]

    def mask_many(self, contents: Sequence[str]) -> list[str]:
        """``[self.mask(c) for c in contents]``, one rule at a time over batches of contents
        (fewer Python-level steps per content; a batch bounds the extra memory)."""
        out: list[str] = []
        for start in range(0, len(contents), _BATCH):
            batch = contents[start : start + _BATCH]
            words: list[str | None] = []
            if self.keep:
                batch, words = map(list, zip(*(self._protected(c) for c in batch), strict=True)) if batch else ([], [])
            for regex, replacement in self._compiled:
                sub = regex.sub
                batch = [sub(replacement, c) for c in batch]
            if self.keep:
                batch = [c if w is None else c.replace(_PROTECTED, w, 1) for c, w in zip(batch, words, strict=True)]
            out.extend(batch)
        return out
