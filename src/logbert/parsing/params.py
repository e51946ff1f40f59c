"""Parameters as data: typed template slots, and the time between a session's lines.

The parser masks the variable parts of a line and :meth:`LogParser.parameters
<logbert.parsing.parser.LogParser.parameters>` gives them back as text, one per ``<*>`` of the
line's template (a *slot*). This module types each slot from training data and converts a raw value
to what a model or a statistic can use; it is pure (no I/O, no global state) and JSON-able.

Slot kinds (:data:`SlotKind`), inferred per template and slot by :func:`infer_slot_schema`:

* ``number``: at least 95 % of the training values read as numbers. The unit comes from the value
  itself (``2560MB``, ``0.5s``, ``120ms``) or from the template word right after the slot
  (``Took <*> seconds``, ``disk <*> GB``, ``vcpus <*> CPU``); values are converted to the base unit
  of their dimension: seconds (``s``), bytes (``B``, binary multiples: 1 KB = 1024 B, as nova
  writes them) or a plain count (``count``, also for numbers without a known unit).
* ``category``: a status or state code (the word before the slot is ``status``, ``code``, ``state``
  ...), or a non-numeric slot with at most ``max_categories`` distinct training values (short
  enums). The training categories are kept.
* ``id``: instance/request ids, UUIDs, IPs, paths, hashes, or any other slot with too many distinct
  values (integers of 4+ digits that are almost all distinct, e.g. pids and ports, too). Ignored for
  modelling: its value converts to None.

:class:`SlotType` keeps, for a number, quantiles of its training values (in the base unit): what
the baselines and a model's quantile buckets need, and what explanations quote ("Took 42 s to
spawn; training range 17.2-24.8 s").

Time: :func:`time_gaps` (seconds since the session's previous line, per line) and
:func:`elapsed` (last minus first timestamp); :func:`session_signals` puts gaps and typed values
of one session together in a :class:`~logbert.records.SessionSignals`, aligned with its keys.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, Protocol

from logbert.records import UNK_KEY, LogLine, ParamValue, SessionSignals

__all__ = [
    "QUANTILE_PROBS",
    "SlotKind",
    "SlotSchema",
    "SlotType",
    "attach_schema",
    "elapsed",
    "infer_slot_schema",
    "merged_state_words",
    "parse_number",
    "schema_of",
    "session_signals",
    "state_words_hint",
    "time_gaps",
]

SlotKind = Literal["number", "category", "id"]
#: Base unit of a number slot: seconds, bytes, or a plain count.
BaseUnit = Literal["s", "B", "count"]

#: Probabilities at which a number slot's training quantiles are kept (``SlotType.quantiles``).
QUANTILE_PROBS: Final[tuple[float, ...]] = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
#: A slot is a number when at least this share of its training values reads as one.
NUMERIC_SHARE: Final[float] = 0.95

_TIME = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 1e-3, "msec": 1e-3, "msecs": 1e-3, "millis": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "us": 1e-6, "usec": 1e-6, "microseconds": 1e-6, "ns": 1e-9, "nanoseconds": 1e-9,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
}  # fmt: skip
_BYTES = {
    "B": 1.0, "byte": 1.0, "bytes": 1.0,
    "K": 1024.0, "k": 1024.0, "KB": 1024.0, "kB": 1024.0, "KiB": 1024.0, "Kb": 1024.0, "kb": 1024.0,
    "M": 1024.0**2, "MB": 1024.0**2, "MiB": 1024.0**2, "Mb": 1024.0**2,
    "G": 1024.0**3, "GB": 1024.0**3, "GiB": 1024.0**3, "Gb": 1024.0**3,
    "T": 1024.0**4, "TB": 1024.0**4, "TiB": 1024.0**4,
    "P": 1024.0**5, "PB": 1024.0**5, "PiB": 1024.0**5,
}  # fmt: skip
_COUNT_WORDS = frozenset(
    "cpu cpus vcpu vcpus core cores times retries attempts tries items instances lines blocks files requests".split()
)
_CATEGORY_WORDS = frozenset("status code state rc errno exit result level vm_state task_state power_state".split())
_PLAIN_COUNT: Final[tuple[BaseUnit, float, str]] = ("count", 1.0, "")
#: The word before a slot that says its unit when the word after does not ("time: 0.25", "len: 1893").
_BEFORE_UNITS: dict[str, tuple[BaseUnit, float, str]] = {
    **dict.fromkeys("time duration elapsed latency took".split(), ("s", 1.0, "s")),
    **dict.fromkeys("len length size".split(), ("B", 1.0, "B")),
}
_NUMBER = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([A-Za-z]*)$")
_ID_LIKE = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # uuid
    r"|req-.*|blk_.*|/.*|\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?|0x[0-9a-fA-F]+|[0-9a-f]{16,}"
    r"|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}.*)$"  # datetimes: when, not what
)


def _unit_of(word: str) -> tuple[BaseUnit, float, str] | None:
    """(base unit, scale to it, the unit as written) of a unit word, or None."""
    word = word.strip(".,;:()[]\"'")
    if word in _TIME:
        return "s", _TIME[word], word
    if word in _BYTES:
        return "B", _BYTES[word], word
    if word.lower() in _COUNT_WORDS:
        return "count", 1.0, word
    return None


def parse_number(text: str) -> tuple[float, tuple[BaseUnit, float, str] | None] | None:
    """A value's number and the unit glued to it (``"2560MB"`` -> ``(2560.0, ("B", 1048576.0, "MB"))``).

    None when the text is not a number (a unit that is not one of the known units counts as not
    a number, e.g. ``"3a"``). Commas and trailing dots are tolerated (``"20,"``, ``"1,024"``).

    >>> parse_number("0.5s")
    (0.5, ('s', 1.0, 's'))
    >>> parse_number("42") , parse_number("abc")
    ((42.0, None), None)
    """
    text = text.strip().rstrip(",.;").replace(",", "")
    match = _NUMBER.match(text)
    if match is None:
        return None
    number, suffix = match.groups()
    value = float(number)
    if not math.isfinite(value):
        return None
    if not suffix:
        return value, None
    unit = _unit_of(suffix)
    return (value, unit) if unit is not None else None


def readable_number(x: float) -> str:
    """A number as an explanation shows it: 3 significant digits (``42.1``), whole below a thousand million
    (``65536``), and in powers of ten beyond (``1e+308``, where every digit of the float was printed: 309 of them,
    most of them not in the log).

    >>> readable_number(42.123), readable_number(65536.4), readable_number(1e308), readable_number(float("inf"))
    ('42.1', '65536', '1e+308', 'inf')
    """
    return f"{x:.3g}" if abs(x) < 1000 or not math.isfinite(x) or abs(x) >= 1e9 else f"{x:.0f}"


@dataclass(frozen=True, slots=True)
class SlotType:
    """What one slot of one template holds.

    ``unit`` is the base unit of a number (values are converted to it), ``display_unit`` and
    ``display_scale`` how explanations write it (``"GB"``, 2**30: a value in bytes / display_scale).
    ``quantiles`` are the training values' quantiles at :data:`QUANTILE_PROBS` (base unit),
    ``categories`` the training categories (most frequent first), ``n`` the training values seen.
    """

    kind: SlotKind
    unit: BaseUnit | None = None
    display_unit: str | None = None
    display_scale: float = 1.0
    context: str = ""  # the template words around the slot, for people ("Took <*> seconds")
    n: int = 0
    quantiles: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    def convert(self, raw: str) -> ParamValue:
        """The raw text as this slot's typed value: a float in the base unit, a category, or None."""
        if self.kind == "id":
            return None
        if self.kind == "category":
            return raw.strip()
        parsed = parse_number(raw)
        if parsed is None:
            return None
        value, unit = parsed
        if unit is not None and unit[0] == self.unit:
            return value * unit[1]
        return value * self.display_scale  # no unit on the value: the template's unit

    def display(self, value: float) -> str:
        """A base-unit value as people read it: ``"42.1 s"``, ``"20 GB"``."""
        if self.unit == "s" and self.display_scale == 1.0:
            unit: str | None = "s"  # "seconds", "secs", "sec" are all written as s
        else:
            unit = self.display_unit if self.unit != "count" else None
        shown = value / self.display_scale if self.display_scale else value
        text = readable_number(shown)
        return f"{text} {unit}" if unit else text

    @property
    def training_range(self) -> tuple[float, float] | None:
        """The 1 %-99 % training quantile range (base unit), or None for a non-number slot."""
        if self.kind != "number" or len(self.quantiles) != len(QUANTILE_PROBS):
            return None
        return self.quantiles[1], self.quantiles[-2]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "n": self.n, "context": self.context}
        if self.kind == "number":
            out.update(
                unit=self.unit,
                display_unit=self.display_unit,
                display_scale=self.display_scale,
                quantiles=list(self.quantiles),
            )
        if self.kind == "category":
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlotType:
        return cls(
            kind=data["kind"],
            unit=data.get("unit"),
            display_unit=data.get("display_unit"),
            display_scale=float(data.get("display_scale", 1.0)),
            context=str(data.get("context", "")),
            n=int(data.get("n", 0)),
            quantiles=tuple(float(q) for q in data.get("quantiles", ())),
            categories=tuple(str(c) for c in data.get("categories", ())),
        )


@dataclass(frozen=True, slots=True)
class SlotSchema:
    """The slot types of every template: ``slots[key_id]`` lists one :class:`SlotType` per ``<*>``."""

    slots: Mapping[int, tuple[SlotType, ...]] = field(default_factory=dict)

    def convert(self, key_id: int, raw_values: Sequence[str]) -> tuple[ParamValue, ...]:
        """The typed values of one line (one per slot); empty for an unknown template, None for
        an id slot or a value that does not convert, and all None when the count does not match."""
        types = self.slots.get(key_id)
        if not types:
            return ()
        if len(raw_values) != len(types):
            return (None,) * len(types)
        return tuple(t.convert(v) for t, v in zip(types, raw_values, strict=True))

    def numeric_slots(self) -> list[tuple[int, int]]:
        """(key_id, slot) of every number slot, sorted."""
        return sorted((k, i) for k, types in self.slots.items() for i, t in enumerate(types) if t.kind == "number")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``{"version": 1, "slots": {"<key_id>": [slot, ...]}}`` (templates without slots left out)."""
        return {
            "version": 1,
            "slots": {str(k): [t.to_dict() for t in types] for k, types in sorted(self.slots.items()) if types},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlotSchema:
        return cls({int(k): tuple(SlotType.from_dict(t) for t in types) for k, types in data["slots"].items()})


def _quantiles(values: Sequence[float]) -> tuple[float, ...]:
    """Linear-interpolation quantiles at :data:`QUANTILE_PROBS` (numpy's default method)."""
    ordered = sorted(values)
    n = len(ordered)
    out = []
    for p in QUANTILE_PROBS:
        pos = p * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        out.append(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))
    return tuple(out)


def _neighbours(template_tokens: Sequence[str], position: int) -> tuple[str, str]:
    """The template words right before and after the token at ``position``."""
    before = template_tokens[position - 1] if position > 0 else ""
    after = template_tokens[position + 1] if position + 1 < len(template_tokens) else ""
    return before, after


def _context(template_tokens: Sequence[str], position: int, id_positions: set[int], width: int = 4) -> str:
    """Up to ``width`` template words each side of a slot, id slots left out (``[instance:<*>]``):
    ``"Took <*> seconds to build instance."``."""
    kept = [i for i in range(len(template_tokens)) if i not in id_positions or i == position]
    at = kept.index(position)
    return " ".join(template_tokens[i] for i in kept[max(0, at - width) : at + width + 1])


def _type_slot(values: Sequence[str], token: str, before: str, after: str, max_categories: int) -> SlotType:
    context = ""  # set by infer_slot_schema once every slot of the template is typed
    n = len(values)
    if n == 0:
        return SlotType("id", context=context)
    if token.partition("<*>")[0].endswith(("_", "-")):
        return SlotType("id", context=context, n=n)  # glued to a name: blk_<*>, cp-<*>, req-<*>
    parsed = [parse_number(v) for v in values]
    numbers = [p for p in parsed if p is not None]
    # the word before the slot: a key glued to it ("status=<*>", logfmt's and parser.content_keys' form), else the
    # template word before it ("status <*>", "status: <*>")
    glued_key = token.partition("<*>")[0]
    glued_key = glued_key[:-1] if glued_key.endswith(("=", ":")) else ""
    prev_word = (glued_key or before).strip(".,;:=()[]\"'").lower()
    distinct = set(values)
    if len(numbers) >= NUMERIC_SHARE * n:
        if prev_word in _CATEGORY_WORDS or token.partition("<*>")[0].endswith(("/", "v", "V")):
            return _category(values, context, max_categories)  # a status code, a version ("HTTP/<*>")
        glued = {p[1] for p in numbers if p[1] is not None}
        unit: tuple[BaseUnit, float, str] | None
        if glued:
            unit = max(glued, key=lambda u: u[1])  # the largest unit written on a value
        else:
            unit = _unit_of(after) or _BEFORE_UNITS.get(prev_word)
        if unit is None:
            integers = all(p[0].is_integer() for p in numbers)
            if integers and n >= 20 and len(distinct) > 0.9 * n and min(abs(p[0]) for p in numbers) >= 1000:
                return SlotType("id", context=context, n=n)  # pids, ports, sequence numbers
            if integers and min(abs(p[0]) for p in numbers) >= 1e12:
                return SlotType("id", context=context, n=n)  # no count is that large: an id
        base, scale, written = unit if unit is not None else _PLAIN_COUNT
        converted = [v * (u[1] if u is not None and u[0] == base else scale) for v, u in numbers]
        if base == "s" and min(converted) >= 1e8:
            return SlotType("id", context=context, n=n)  # epoch seconds: a point in time, not a duration
        return SlotType(
            "number", base, written or None, scale, context, n, _quantiles(converted)
        )  # fmt: skip
    id_like = sum(1 for v in values if _ID_LIKE.match(v.strip().strip(",;()")))
    if id_like >= 0.5 * n or len(distinct) > max_categories or len(distinct) > max(1, n // 2):
        return SlotType("id", context=context, n=n)  # ids, or values that hardly repeat
    return _category(values, context, max_categories)


def _category(values: Sequence[str], context: str, max_categories: int) -> SlotType:
    counts: dict[str, int] = {}
    for v in values:
        counts[v.strip()] = counts.get(v.strip(), 0) + 1
    if len(counts) > max_categories:
        return SlotType("id", context=context, n=len(values))
    ordered = tuple(sorted(counts, key=lambda c: (-counts[c], c)))
    return SlotType("category", context=context, n=len(values), categories=ordered)


def infer_slot_schema(
    templates: Sequence[str],
    rows: Iterable[tuple[int, Sequence[str]]],
    *,
    max_categories: int = 20,
    max_values: int = 100_000,
) -> SlotSchema:
    """Type every slot of every template from training lines.

    Args:
        templates: the parser's templates (index = key id), wildcards as ``<*>``.
        rows: ``(key_id, raw parameter values)`` of training lines, e.g. ``(k, parser.parameters(c, k))``;
            lines of unknown templates or whose value count does not match the template are skipped.
        max_categories: a non-numeric slot with more distinct training values is an id.
        max_values: values kept per slot (the first ones; bounds memory on large training sets).

    >>> s = infer_slot_schema(["Took <*> seconds to spawn", "state <*>"], [(0, ["19.8"]), (0, ["20.3"]), (1, ["ok"])])
    >>> s.slots[0][0].kind, s.slots[0][0].unit, s.convert(0, ["42"]), s.convert(1, ["ok"])
    ('number', 's', (42.0,), ('ok',))
    """
    positions: dict[int, list[int]] = {}
    for key, template in enumerate(templates):
        positions[key] = [i for i, tok in enumerate(template.split()) if "<*>" in tok]
    seen: dict[int, list[list[str]]] = {k: [[] for _ in pos] for k, pos in positions.items() if pos}
    for key, values in rows:
        slots = seen.get(key)
        if slots is None or len(values) != len(slots):
            continue
        for bucket, value in zip(slots, values, strict=True):
            if len(bucket) < max_values:
                bucket.append(value)
    schema: dict[int, tuple[SlotType, ...]] = {}
    for key, slots in seen.items():
        tokens = templates[key].split()
        types = [
            _type_slot(values, tokens[position], *_neighbours(tokens, position), max_categories)
            for position, values in zip(positions[key], slots, strict=True)
        ]
        ids = {p for p, t in zip(positions[key], types, strict=True) if t.kind == "id"}
        schema[key] = tuple(
            replace(t, context=_context(tokens, p, ids)) for p, t in zip(positions[key], types, strict=True)
        )
    return SlotSchema(schema)


#: A word that may be a log's own state or outcome ("installed", "half-configured", "not_found"): letters, with - or
#: _ between them. No digit, dot, colon or slash: versions, sizes, hosts and paths never are.
_STATE_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*[A-Za-z]")
#: Punctuation that may stand around a state word in a sentence ("started:", "(installed)"): all but "_" and "-"
_AROUND_A_WORD = "".join(c for c in string.punctuation if c not in "_-")
#: The most distinct words a slot may take for :func:`merged_state_words` to read them as states (more are names).
MAX_STATE_WORDS: Final[int] = 12
#: How many lines the merged-words warnings of ``parse`` and ``train`` read: at most this many of a template, among
#: the first :data:`HINT_MAX_LINES` of the file (or of the training sessions).
HINT_SAMPLE: Final[int] = 1_000
HINT_MAX_LINES: Final[int] = 50_000


def merged_state_words(
    templates: Sequence[str], schema: SlotSchema, *, min_lines: int = 20
) -> list[tuple[int, tuple[str, ...]]]:
    """Templates in which Drain made one wildcard of a few words: ``(key id, words)`` for every bare ``<*>`` slot
    right after a word of the template whose values, over at least ``min_lines`` lines, are 2 to
    :data:`MAX_STATE_WORDS` distinct words (most frequent first).

    Two messages that differ in one word and in a value are 50 % alike, so Drain's usual similarity merges dpkg's
    ``status installed <pkg> <ver>`` and ``status unpacked <pkg> <ver>`` into ``status <*> <*> <*>``: the state,
    which is what tells the lines apart, becomes a parameter and the model never sees it. Such words can be kept
    apart (``parser.extra_outcome_words``), but which words are states is the log's own business: this finds the
    candidates, :func:`state_words_hint` says what to do with them.

    >>> templates = ["status <*> <*>", "user <*> logged in", "took <*> ms"]
    >>> rows = [(0, [w, f"pkg{i}"]) for i, w in enumerate(["installed", "unpacked"] * 15)]
    >>> rows += [(1, [f"user{i}"]) for i in range(30)] + [(2, [str(i)]) for i in range(30)]
    >>> merged_state_words(templates, infer_slot_schema(templates, rows))
    [(0, ('installed', 'unpacked'))]
    >>> rows = [(0, [w, f"pkg{i}"]) for i, w in enumerate(["started:", "ended:"] * 15)]
    >>> merged_state_words(templates[:1], infer_slot_schema(templates[:1], rows))
    [(0, ('ended', 'started'))]
    >>> rows = [(0, [f"{i}", w]) for i, w in enumerate(["paid", "shipped"] * 15)]  # after a masked order id
    >>> merged_state_words(["order ord-<*> <*>"], infer_slot_schema(["order ord-<*> <*>"], rows))
    [(0, ('paid', 'shipped'))]

    Words that are also values of another template's slots are names of what the log talks about, not states:
    sshd's users in "session closed for user <*>" and "Accepted publickey for <*> from <*>".

    >>> templates = ["session closed for user <*>", "Accepted publickey for <*> from <*>"]
    >>> users = ["bob", "alice", "carol"] * 10
    >>> rows = [(0, [u]) for u in users] + [(1, [u, f"10.0.0.{i}"]) for i, u in enumerate(users)]
    >>> merged_state_words(templates, infer_slot_schema(templates, rows))
    []

    A template that is a JSON object's text (an app's JSON log inside Docker's) is a record whose words are its keys
    and values: the reader's warning says to read it as one (``parser.log_format=<Json>``), and its keys are no
    outcome words (``parse`` named "hit", "query", "ttl_s" as states beside that warning).
    """
    found: list[tuple[int, tuple[str, ...]]] = []
    for key, types in sorted(schema.slots.items()):
        if key >= len(templates) or templates[key].lstrip().startswith('{"'):
            continue
        tokens = templates[key].split()
        # a bare wildcard right after a word of the template: a word that belongs to it ("status <*>", or a masked
        # id with words of its own, "order ord-<*> <*>" for paid and shipped), not one of a run of wildcards (a
        # header left in the content, "<*>-<*>-<*> <*>:<*>", a sentence Drain cut up)
        bare = [tok == "<*>" and i > 0 and _has_a_word(tokens[i - 1]) for i, tok in enumerate(tokens) if "<*>" in tok]
        for slot, is_bare in zip(types, bare, strict=False):
            # without the sentence's punctuation around it (apt's "Log started:" and "Log ended:"), as Drain compares
            # an outcome word, so that the --set the hint prints keeps them apart; "_" and "-" stay (a traceback's
            # "in _build_resources" is code, not a state)
            words = tuple(dict.fromkeys(w.strip(_AROUND_A_WORD) for w in slot.categories))
            if (
                is_bare
                and slot.kind == "category"
                and slot.n >= min_lines
                and 2 <= len(words) <= MAX_STATE_WORDS
                and all(_STATE_WORD.fullmatch(w) for w in words)
            ):
                found.append((key, words))
    return [(key, words) for key, words in found if not _names_elsewhere(key, words, schema)]


def _names_elsewhere(key: int, words: Sequence[str], schema: SlotSchema) -> bool:
    """Whether most of ``words`` are also values of a slot of another template (:func:`merged_state_words`): a
    user or a host the log names in several kinds of line, not a state one kind of line reports."""
    elsewhere = {
        w.strip(_AROUND_A_WORD)
        for other, types in schema.slots.items()
        if other != key
        for slot in types
        for w in slot.categories
    }
    return sum(w in elsewhere for w in words) > len(words) / 2


def _has_a_word(token: str) -> bool:
    """Whether a template token holds a word of its own besides its wildcards: 'status', 'ord-<*>', not '<*>:<*>'."""
    return re.search(r"[^\W\d_]{2}", token.replace("<*>", " ")) is not None


#: a template token of four or more masked numbers joined by "/" (HAProxy's timers "0/0/1/9/11" and connection
#: counts "12/12/3/1/0"; a date's three parts are not counted): one parameter, typed an id
_JOINED_NUMBERS = re.compile(r"\W*<\*>(?:/<\*>){3,}\W*")


def joined_numbers_hint(templates: Sequence[str], delimiters: Sequence[str]) -> str:
    """'' unless a template holds numbers joined by "/" as one token while "/" is not among Drain's extra
    ``delimiters``: then which templates and the setting that reads each number. As one value such a token is an id
    to the slot schema, so a time- and value-aware model never reads the numbers in it (a burst of 5-15 s HAProxy
    responses went unseen; split at "/", it was found)."""
    if "/" in delimiters:
        return ""
    found = [t for t in templates if any(_JOINED_NUMBERS.fullmatch(token) for token in t.split())]
    if not found:
        return ""
    example = found[0] if len(found[0]) <= 80 else found[0][:77] + "..."
    return (
        ("1 template holds" if len(found) == 1 else f"{len(found)} templates hold")
        + f" numbers joined by '/' as one value (e.g. '{example}'; HAProxy's timers "
        "Tq/Tw/Tc/Tr/Ta): as one value they are an id, and a time- and value-aware model reads none of their "
        "numbers. --set 'parser.drain_extra_delimiters=[\"/\"]' reads each number (it splits paths at '/' too)"
    )


def state_words_hint(templates: Sequence[str], found: Sequence[tuple[int, Sequence[str]]], limit: int = 30) -> str:
    """What to do about :func:`merged_state_words`' finds, in words a user can act on ('' when there are none): the
    templates, their words, and the ``--set`` that keeps one template per word.

    >>> state_words_hint(["status <*> <*>"], [(0, ("installed", "unpacked"))])[:73]
    "one template stands for lines that differ in a word: 'status <*> <*>' for"
    """
    if not found:
        return ""
    words = list(dict.fromkeys(w for _, ws in found for w in ws))[:limit]
    shown = "; ".join(
        f"'{templates[k]}' for {', '.join(ws[:6])}{', ...' if len(ws) > 6 else ''}" for k, ws in found[:3]
    )
    more = f" (and {len(found) - 3} more templates)" if len(found) > 3 else ""
    listed = ",".join(f'"{w}"' for w in words)
    return (
        f"one template stands for lines that differ in a word: {shown}{more}. If these words are states or outcomes, "
        f"--set 'parser.extra_outcome_words=[{listed}]' gives each its own template, which the model then reads "
        f"(README, \"Your own logs\")"
    )


#: Where :func:`attach_schema` puts the schema in a parser state (``LogParser.to_dict()``).
SCHEMA_FIELD: Final[str] = "slot_schema"


def attach_schema(parser_state: Mapping[str, Any], schema: SlotSchema) -> dict[str, Any]:
    """A copy of a parser state (``LogParser.to_dict()``, saved as an artifact's ``parser.json``)
    with the slot schema under ``"slot_schema"``: the artifact's template metadata then says what
    each template's slots hold. ``LogParser.from_dict`` ignores the field."""
    return {**parser_state, SCHEMA_FIELD: schema.to_dict()}


def schema_of(parser_state: Mapping[str, Any] | None) -> SlotSchema | None:
    """The slot schema stored by :func:`attach_schema`, or None (older artifacts, key files)."""
    if not parser_state or SCHEMA_FIELD not in parser_state:
        return None
    return SlotSchema.from_dict(parser_state[SCHEMA_FIELD])


# ------------------------------------------------------------------------------------------- time
def time_gaps(timestamps: Sequence[float | None]) -> tuple[float, ...]:
    """Seconds since the previous line of the same session, per line: 0.0 for the first line,
    NaN where this line's or the previous line's time is unknown. Negative gaps (clock steps,
    interleaved writers) are clipped to 0.

    >>> time_gaps([10.0, 10.5, None, 13.0])
    (0.0, 0.5, nan, nan)
    """
    out: list[float] = []
    previous: float | None = None
    for i, t in enumerate(timestamps):
        if t is None:
            out.append(math.nan)
        elif i == 0:
            out.append(0.0)
        elif previous is None:
            out.append(math.nan)
        else:
            out.append(max(0.0, round(t - previous, 6)))  # float epochs: keep microseconds
        previous = t
    return tuple(out)


def elapsed(timestamps: Sequence[float | None]) -> float | None:
    """Seconds from the first to the last known timestamp of a session (None when none is known).

    >>> elapsed([None, 3.0, 10.5]), elapsed([None])
    (7.5, None)
    """
    known = [t for t in timestamps if t is not None]
    return round(max(known) - min(known), 6) if known else None


class _HasParameters(Protocol):
    def parameters(self, content: str, key_id: int) -> list[str]: ...


def session_signals(
    lines: Sequence[LogLine],
    key_ids: Sequence[int],
    parser: _HasParameters,
    schema: SlotSchema,
    session_id: str = "",
) -> SessionSignals:
    """Per-line gaps and typed values of one session (its lines in log order, with their keys).

    Raises:
        ValueError: ``lines`` and ``key_ids`` differ in length.
    """
    if len(lines) != len(key_ids):
        raise ValueError(f"{len(lines)} lines but {len(key_ids)} keys")
    stamps = [ln.timestamp for ln in lines]
    values = tuple(
        () if key == UNK_KEY or key not in schema.slots else schema.convert(key, parser.parameters(ln.content, key))
        for ln, key in zip(lines, key_ids, strict=True)
    )
    return SessionSignals(time_gaps(stamps), values, elapsed(stamps), session_id)
