"""Typed configuration for every stage of the pipeline.

One frozen pydantic model per stage, combined in :class:`LogBertConfig`. Load order is
defaults, then a TOML file, then explicit overrides; validation happens once, at load time.
The whole config is saved inside the artifact (``config.json``), so a model always carries the
settings it was trained with. Service settings live apart, in ``logbert.service.settings``.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from logbert.errors import ConfigError

logger = logging.getLogger(__name__)

#: Built-in header formats (see ``logbert.parsing.headers.BUILTIN_FORMATS``).
FormatName = Literal[
    "openstack",  # loghub / DeepLog nova: <Logrecord> <Date> <Time> <Pid> <Level> <Component> [<ADDR>] ...
    "openstack_devstack",  # DevStack nova without timestamps: <Level> <Component> <Content>
    "hdfs",
    "bgl",
    "thunderbird",
    "syslog",  # RFC 3164 / rsyslog's traditional layout: <Month> <Day> <Time> <Host> <Component>[<PID>]: ...
    "syslog_iso",  # rsyslog's default on current distributions: <Datetime> <Host> <Component>[<PID>]: ...
    "apache_error",  # Apache httpd's error log: [Thu Nov 20 10:00:00.5 2026] [core:error] [pid 1:tid 2] ...
    "klog",  # Kubernetes components (kubelet, apiserver, controllers): I1129 10:00:00.123456 1234 file.go:12] ...
    "json",  # one JSON object per line: the message key is the content, the other keys header fields
    "csv",  # one CSV record per line, columns parser.csv_columns: read as a JSON object of those keys
    "logfmt",  # key=value pairs per line (Go's slog, logrus, Heroku): read as a JSON object of those keys
    "access",  # web servers' access logs (Common / Combined Log Format): "METHOD target status" is the content
    "raw",  # the whole line is the content
]
#: A container runtime's line around each line of the app (``logbert.parsing.envelope``): none, CRI (containerd,
#: CRI-O: /var/log/pods, ``kubectl logs``) or Docker's json-file driver.
EnvelopeName = Literal["none", "cri", "docker"]
SessionIdRule = Literal["openstack_instance", "hdfs_block"]
WindowMode = Literal["session", "sliding", "time"]
MaskStrategy = Literal["strided", "seeded"]
#: miss_ratio: share of masked keys outside the top-g predictions (the LogBERT paper's criterion).
#: mean_nll: mean surprise -log p(true key) over masked keys: the same test without the top-g cut.
#: dist: squared distance of the DIST embedding to the training centre (VHM).
#: max_nll: the largest surprise of any masked key (one impossible key, e.g. a session that ends too soon, is
#: not averaged away by the normal keys around it).
#: max_mean_nll: max_nll + mean_nll. One impossible key still decides (max), but a session whose keys are *all*
#: somewhat surprising (one that stops after two of its twenty keys) adds up its surprise and passes a normal
#: session with a single rare key, which max_nll alone cannot tell apart (issue 9, benchmarks/session_signal).
ScoreKind = Literal["miss_ratio", "mean_nll", "max_nll", "max_mean_nll", "dist"]
#: What the model sees besides the keys (issue 13; ``logbert.windowing.signals``): nothing ("off", the key-only
#: LogBERT), the time ("time": the gap before each key, the session's elapsed time at DIST), the parameter values
#: ("values": the most unusual number slot of each line) or both ("all").
SignalsMode = Literal["off", "time", "values", "all"]
#: Signal bucket ids (gap and value inputs): NONE (no signal there: a key file, a template without a number,
#: DIST without a time), MASK (hidden for the model to predict), BELOW / ABOVE the training range, and the
#: ``n`` training-quantile buckets in between (ids 3 .. n + 2); ``n + 4`` classes in all.
SIGNAL_NONE, SIGNAL_MASK, SIGNAL_BELOW = 0, 1, 2


def signal_classes(n_buckets: int) -> int:
    """Input / output classes of a signal channel with ``n_buckets`` inner buckets (see :data:`SIGNAL_NONE`)."""
    return n_buckets + 4


#: normal_quantile: a quantile of normal calibration scores (needs no labels).
#: pot: the same target rate from a generalized Pareto fit of the upper tail of those scores (peaks over
#: threshold); reaches rates below 1/n that the plain quantile cannot.
#: labelled_f1: the F1-best threshold on a labelled validation mix (needs anomalous sessions in the labels).
ThresholdMethod = Literal["normal_quantile", "pot", "labelled_f1"]
#: Where the normal scores behind the threshold come from (``logbert.pipeline.calibrate``):
#: split: the normal validation split, scored by the model trained on the rest (split conformal);
#: cross_fit: every normal train + validation session, scored out of fold by k fold models (cross-conformal),
#: then the final model is trained on them all;
#: auto: cross_fit when the validation split is too small for the quantile's guarantee and the normal sessions
#: are few enough for k extra trainings to be cheap, else split.
CalibrationMethod = Literal["split", "cross_fit", "auto"]
#: The simple detectors ``evaluate`` and ``bench`` run beside LogBERT (``logbert.baselines``), cheapest first.
BaselineName = Literal[
    "new_event", "sequence_length", "count_nearest", "pca", "isolation_forest", "deeplog",
    "param_outlier", "session_duration", "time_gap",  # read SessionSignals (time, values); 0 without
]  # fmt: skip


def quoted(text: str) -> str:
    r"""``text`` in single quotes as it was written, for a message that shows a user's regex or layout: repr doubles
    every backslash (``'Pid=(\\d+'``), which the user never wrote and cannot paste back. A character that does not
    print is shown as its escape (``\n``, ``\x08``), the one backslash added: Rich drops control characters, and the
    backspaces a TOML basic string makes of ``"\b(\\S+)\b"`` were shown as nothing. In a regex the escape means
    that same character.

    >>> print(quoted(r"Pid=(\d+"), quoted("a\nb"), quoted("\b(\\S+)\b"))
    'Pid=(\d+' 'a\nb' '\x08(\S+)\x08'
    """
    return "'" + "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text) + "'"


#: Control characters that a TOML or JSON basic string makes of an escape which, in a regex, means something else or
#: nothing: ``\b`` is a backspace there and a word boundary in a regex. A tab, line feed or carriage return is the
#: same character either way (TOML's "\t" and the regex \t), and is not one of them.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_characters(layer: Mapping[str, Any], path: Path) -> None:
    """Refuse a setting of the TOML file at ``path`` whose text holds a control character (:data:`CONTROL_CHARACTERS`).

    Raises:
        ConfigError: naming the setting, showing the control characters, and saying how to write it: in a literal
            string ('...'), which keeps every backslash; with the setting so written where the text allows.
    """

    def strings(value: Any, name: str) -> typing.Iterator[tuple[str, str]]:
        if isinstance(value, str):
            yield name, value
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield from strings(item, f"{name}.{key}" if name else str(key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from strings(item, f"{name}[{i}]")

    for name, text in strings(layer, ""):
        if not CONTROL_CHARACTERS.search(text):
            continue
        # what the user meant: the escape they typed back in place of the character TOML made of it
        meant = CONTROL_CHARACTERS.sub(lambda m: {"\b": "\\b", "\f": "\\f"}.get(m.group(), repr(m.group())[1:-1]), text)
        literal = f"'{meant}'" if "'" not in meant and meant.isprintable() else "'...'"
        raise ConfigError(
            f"{path}: {name} = {quoted(text)} holds a control character: a TOML basic string (\"...\") reads \\b "
            "as a backspace (and \\f as a form feed), where a regex means a word boundary; write the setting as a "
            f"literal string ('...'), which keeps every backslash as written: {name.rpartition('.')[2]} = {literal}"
        )


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MaskRule(_Frozen):
    """One masking rule: every match of ``pattern`` in a line's content becomes ``replacement``; with ``group``,
    only that capture group of each match does (the text around it, matched for context, stays)."""

    name: str
    pattern: str
    replacement: str = "<*>"
    group: int = Field(0, ge=0)  # 0 = the whole match

    @model_validator(mode="after")
    def _compiles(self) -> MaskRule:
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"mask {self.name!r}: {quoted(self.pattern)} is not a valid regex ({exc})") from None
        if self.group > compiled.groups:
            raise ValueError(
                f"mask {self.name!r}: group {self.group}, but {quoted(self.pattern)} has {compiled.groups}"
            )
        return self


#: What a CSV reading without its columns says (the config's check, and HeaderParser's when built directly).
CSV_NEEDS_COLUMNS = (
    "parser.format = csv needs parser.csv_columns, the names of the columns in order, e.g. --set "
    "'parser.csv_columns=[\"time\",\"level\",\"message\"]' (logbert parse FILE, without parser.format, suggests "
    "them from its header row)"
)


class ParserConfig(_Frozen):
    """Header parsing, masking and Drain template mining."""

    # a built-in format: its header, masks and Drain settings; with log_format, only the masks and Drain settings
    format: FormatName | None = "raw"
    log_format: str | None = None  # custom loghub-style header, e.g. "<Date> <Time> <Content>"; wins over format's
    # a container runtime's line around each of the app's ("cri": "<time> stdout F <message>", "docker": json-file's
    # {"log": ...}): unwrapped first, the message then read by format / log_format as a plain line is; the runtime's
    # time is the line's where the message has none, its stream a field (stream=stdout), and a line the runtime split
    # into pieces (CRI "P", docker's "log" without "\n") is joined again (logbert.parsing.envelope)
    envelope: EnvelopeName = "none"
    masks: tuple[MaskRule, ...] | None = None  # None = the built-in rules for `format`
    # None = the built-in default of `format` (logbert.parsing.drain.FORMAT_DEFAULTS); a number overrides it
    drain_sim_th: float | None = Field(None, gt=0.0, le=1.0)  # Drain similarity threshold
    drain_depth: int | None = Field(None, ge=3)  # prefix-tree depth; drain3 requires >= 3
    drain_max_children: int = Field(100, ge=2)  # max children per tree node
    drain_extra_delimiters: tuple[str, ...] = ()  # extra token delimiters besides whitespace
    # words never made a parameter by Drain ("task=<*> failed" stays apart from "task=<*> received"); None = the
    # built-in list (logbert.parsing.drain.OUTCOME_WORDS: error, failed, timeout, refused, ...), () = none
    outcome_words: tuple[str, ...] | None = None
    # words added to those (the built-in list or yours): a log's own states, e.g. dpkg's "installed", "unpacked",
    # "half-configured", which Drain would otherwise merge into "status <*> <*> <*>"
    extra_outcome_words: tuple[str, ...] = ()
    max_line_chars: int = Field(10_000, ge=16)  # longer lines are truncated and counted, not dropped
    # a line whose header does not match, after one that did: "count" = malformed (counted, left out); "attach" = a
    # continuation of that line's message (a Java stack trace's "at ..." lines, a Python traceback), read as a line
    # of its own with that line's time and sessions (as Filebeat's multiline negate/after). Within one input: a
    # file, or one request to the service
    continuation: Literal["count", "attach"] = "count"
    cache_size: int = Field(100_000, ge=0)  # masked-content -> key cache (0 disables the fast path)
    n_jobs: int = Field(0, ge=0)  # processes that mask large inputs (>= 200k lines); 0 = idle cores, 1 = none
    # format "json": the first of these keys a line's object holds is its content; the first time key its time
    # (names as written first, then without regard to case: PowerShell's "Message").
    # journalctl -o json's are last: epoch microseconds, the time the program gave (_SOURCE_...) before the time the
    # journal received the line, as journalctl shows it
    # (eventMessage: macOS's `log show --style ndjson`; short_message: GELF; body: OpenTelemetry's log records)
    json_message_keys: tuple[str, ...] = (
        "message", "msg", "log", "MESSAGE", "text", "eventMessage", "short_message", "body",
    )
    json_time_keys: tuple[str, ...] = (
        "time", "timestamp", "ts", "@timestamp", "datetime", "date",
        "_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP",
    )
    # format "csv": the names of the columns, in order (the file's header row; `logbert parse` suggests them). Each
    # record is then read as a JSON object of these keys (json_message_keys, json_time_keys), names matched without
    # regard to case; a record with another number of fields, and the header row itself, do not match
    csv_columns: tuple[str, ...] | None = None
    # formats json, csv and logfmt: keys whose values join each record's content as "key=value", in this order (where
    # the record has them; they stay fields too). A record's other keys are fields, which session ids can read but
    # the model does not: a status or a duration (`--set 'parser.content_keys=["status","duration_ms"]'`) becomes a
    # word or, once masked, a parameter slot of the template (model.signals reads its values)
    content_keys: tuple[str, ...] = ()
    # format "json": what a key holding an object is. "drop": left out (as before); "flatten": its scalars become fields
    # named by their path, "http.response.status_code" (Elastic's ECS and most structured loggers nest), which
    # session-id patterns and content_keys can name. Lists are left out either way
    json_nested: Literal["drop", "flatten"] = "drop"

    @model_validator(mode="after")
    def _csv_needs_columns(self) -> ParserConfig:
        if self.format == "csv" and not self.csv_columns:
            raise ValueError(CSV_NEEDS_COLUMNS)
        return self


class WindowConfig(_Frozen):
    """How keys become sequences."""

    mode: WindowMode = "session"
    # mode="session": the built-in session-id rule (regex in windowing.SESSION_ID_RULES); was `session_preset`
    session_id: SessionIdRule | None = "openstack_instance"
    # which edition of the built-in rules `session_id` names: 2 reads nova's "Deleted allocation for instance <uuid>"
    # into its instance too; 1, the rules before (an artifact trained before stop 54 loads with 1 and keeps its
    # sessions: a key it never trained on at every session's end would be an alarm on every instance)
    session_id_version: int = Field(2, ge=1, le=2)
    session_pattern: str | None = None  # any regex; group 1 (or the whole match) is the session id
    window_size: int = Field(20, ge=1)  # keys per sliding window (at most max_len)
    stride: int = Field(20, ge=1)  # step between sliding windows (= window_size: no overlap)
    time_window_s: float = Field(60.0, gt=0)  # width of a time window, seconds
    max_len: int = Field(32, ge=2)  # longer sessions are split into windows of at most this many keys
    min_len: int = Field(1, ge=1)  # shorter sequences are skipped with a reason
    # mode "session": a session-start key before its first key and a session-end key after its last
    # (records.SESSION_START_KEY / SESSION_END_KEY), so where a session starts and stops is learned and
    # scored. Artifacts trained before this setting existed load with it off.
    session_bounds: bool = True
    # mode "session": keys shared by consecutive windows of a session longer than max_len (windows
    # start every max_len - session_overlap keys, windowing.windows.session_window_starts), so a key
    # near a cut is scored with context on both sides in at least one window; every window counts (a
    # session scores its worst). 0 = the plain cut, as before. Sliding windows overlap by `stride`;
    # time windows (cut at max_len like a session) ignore it.
    session_overlap: int = Field(0, ge=0)
    # mode "session": a line more than this many seconds after the previous timed line of its session id starts a
    # new session, named "<id>@<time of that line>" (windowing.windows.session_part_name): a package installed again
    # months later, a client that comes back the next day. None = an id is one session however long it lasts (as
    # before). A line without a time never starts one. The same rule cuts offline and in the streaming router
    session_gap_s: float | None = Field(None, gt=0)

    @property
    def unit_noun(self) -> str:
        """What the scored units are called in every output: sessions, sliding windows or time windows."""
        return "sessions" if self.mode == "session" else f"{self.mode} windows"

    def rule(self, max_window_len: int | None = None) -> str:
        """How this config cuts a log into what is scored, in words: every output that names the rule (train's
        summary, tail's and serve's banners, ``GET /v1/info``) says it with this. ``max_window_len``: a streaming
        cap on keys per window (``StreamLimits.max_window_len``), which shortens windows as the engine does."""
        cap = self.max_len if max_window_len is None else min(self.max_len, max_window_len)
        if self.mode == "sliding":
            return f"sliding windows of {min(self.window_size, cap)} keys every {self.stride} keys"
        if self.mode == "time":
            return f"time windows of {self.time_window_s:g} s, scored in pieces of at most {cap} keys"
        shared = f", {self.session_overlap} keys shared by consecutive ones" if self.session_overlap else ""
        return f"sessions, in windows of at most {cap} keys{shared}"

    @property
    def bounded(self) -> bool:
        """Each session gets its start and end keys (``session_bounds``, mode "session" only): two keys more than
        its lines, offline and streaming alike."""
        return self.mode == "session" and self.session_bounds

    @model_validator(mode="after")
    def _check(self) -> WindowConfig:
        if self.mode == "session" and self.session_id is None and self.session_pattern is None:
            raise ValueError("mode='session' needs session_id or session_pattern")
        if self.session_gap_s is not None and self.mode != "session":
            raise ValueError(f"session_gap_s cuts sessions by id: it needs mode='session' (got {self.mode!r})")
        if self.min_len > self.max_len:
            raise ValueError(f"min_len ({self.min_len}) must be <= max_len ({self.max_len})")
        if self.session_overlap >= self.max_len:
            raise ValueError(
                f"session_overlap ({self.session_overlap}) must be < max_len ({self.max_len}): consecutive windows "
                "of a long session must start at least one key apart"
            )
        if self.session_bounds and self.session_overlap and self.session_overlap > self.max_len - 2:
            # the start key takes its first line's stream offset: windows one key apart would share an offset,
            # and the alert store keeps one alert per (session, offset)
            raise ValueError(
                f"session_overlap ({self.session_overlap}) must be <= max_len - 2 ({self.max_len - 2}) with "
                "session_bounds: consecutive windows must start at least two keys apart"
            )
        if self.mode == "sliding" and self.window_size > self.max_len:
            # a window longer than the model's input would be cut offline but capped in streaming
            raise ValueError(f"window_size ({self.window_size}) must be <= max_len ({self.max_len}) in mode='sliding'")
        return self


#: The most parameters a model may have (about 2 GB of fp32 weights): checked before anything is
#: allocated, so a wrong or hostile config.json fails with a message instead of exhausting memory.
MAX_MODEL_PARAMETERS = 500_000_000


class ModelConfig(_Frozen):
    """LogBERT encoder; defaults follow the blueprint (paper-sized small model)."""

    vocab_size: int = Field(0, ge=0, le=10_000_000)  # set from the fitted vocabulary (specials included); 0 = not yet
    max_len: int = Field(32, ge=2, le=8192)  # keys per sequence, DIST excluded (positions = max_len + 1)
    d_model: int = Field(128, ge=8, le=8192)  # embedding size
    d_ff: int = Field(256, ge=8, le=65536)  # feed-forward size
    n_heads: int = Field(4, ge=1, le=256)
    n_layers: int = Field(2, ge=1, le=96)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    # position embeddings. False = an order-free LogBERT: a masked key is predicted from which keys the window
    # holds and how often, not from where they stand, so lines that concurrent writers put in any order (the
    # datanodes of one HDFS block) are not surprises, while a missing, extra or unknown key still is. For logs
    # whose order is the signal (an OpenStack lifecycle) keep True
    positions: bool = True
    # a learned embedding added to each row's last key (the one before padding), so the model knows which key ends
    # the window. What an order-free model (positions = False) otherwise cannot tell: a cut training row
    # (train.cut_ratio) ends in a masked *next* key, and without the mark that key looks like any other masked
    # one, so "what may follow these keys" (a block write that stops after two lines) is not learnt
    mark_last: bool = False
    # time and values as extra inputs and masked-prediction heads (logbert.windowing.signals); "off" = the
    # key-only LogBERT, whose weights and scores are exactly those of before the setting existed
    signals: SignalsMode = "off"
    # whether a time- and value-aware model's key channel sees the times and values around a masked key (True, as
    # every artifact before the setting) or predicts it from the keys alone, as key-only LogBERT does (False: every
    # time and value hidden in the key pass; training hides them all in half of its rows, whose signal heads learn
    # nothing from those, so that one network learns both views). The hdfs preset sets False (HDFS 2 %,
    # model.signals=all, 3 seeds: F1 0.895 -> 0.970, key-only 0.982); on DeepLog OpenStack True had fewer false
    # alarms. docs/time_values.md, "The key channel from the keys alone"
    keys_see_signals: bool = True
    # the window's key counts (log1p, one linear map) added to DIST's input, and a head on DIST (as the last layer
    # receives it) that predicts every key's count in the window, masked keys included (trained with MLKP; its
    # surprise joins the key surprise in max_nll and max_mean_nll): attention averages, so without them the model
    # sees each key's share of a window rather than how often it occurs (a doubled line, a loop of normal lines).
    # Off = the model of before the setting, weight for weight. docs/benchmarks.md, "Key counts"
    key_counts: bool = False
    gap_buckets: int = Field(16, ge=2, le=256)  # log-scaled training-quantile buckets of the gap before a key
    value_buckets: int = Field(8, ge=2, le=256)  # training-quantile buckets of a number slot, per template and slot

    @property
    def uses_time(self) -> bool:
        return self.signals in ("time", "all")

    @property
    def uses_values(self) -> bool:
        return self.signals in ("values", "all")

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.n_parameters() > MAX_MODEL_PARAMETERS:
            n = self.n_parameters()
            raise ValueError(f"the model would have {n:,} parameters, more than {MAX_MODEL_PARAMETERS:,}")
        return self

    def n_parameters(self) -> int:
        """About how many weights this shape has (embeddings, layers, head), before building it."""
        d, v = self.d_model, max(self.vocab_size, 1)
        per_layer = 4 * d * d + 2 * d * self.d_ff + 9 * d + self.d_ff
        extra = 0
        for on, n in ((self.uses_time, self.gap_buckets), (self.uses_values, self.value_buckets)):
            extra += 2 * signal_classes(n) * d + signal_classes(n) if on else 0  # embedding, head (+ bias)
        positions = (self.max_len + 1) * d if self.positions else 0
        positions += d if self.mark_last else 0
        extra += v * d + 2 * d + (d + 1) * v * 8 if self.key_counts else 0  # counts in; norm; head (8 buckets)
        return 2 * v * d + positions + self.n_layers * per_layer + v + extra


class TrainConfig(_Frozen):
    """Optimisation. Train and validation data hold normal sequences only."""

    mask_ratio: float = Field(0.5, gt=0.0, lt=1.0)  # share of keys masked per training sequence
    alpha: float = Field(0.1, ge=0.0)  # weight of the VHM (hypersphere) loss
    # the VHM term per embedding dimension (the squared distance divided by d_model) instead of summed over them:
    # summed, at d_model 128 and alpha 0.1 it starts at about 25 against MLKP's 3.4 and holds MLKP back for the
    # first epochs. Not the default: measured on 3 seeds it was better on all of DevStack, HDFS 2 % (at 25 blocks 0.980
    # against 0.912) and DeepLog OpenStack's time- and value-aware model, worse on DevStack's 25-50 sessions and
    # DeepLog's HDFS keys (docs/benchmarks.md, "The hypersphere term per dimension")
    vhm_per_dimension: bool = False
    use_mlkp: bool = True  # masked log-key prediction loss on; off only for the VHM-only ablation
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(30, ge=1)
    # at least this many optimiser steps in all: on small data every epoch makes several passes over it
    # (logbert.training.trainer.passes_per_epoch); 0 = epochs alone decide. A time- and value-aware model whose key
    # channel reads the keys alone (model.keys_see_signals = false) makes twice as many, and two passes an epoch at
    # least: half its rows teach that channel (trainer.key_rows_share)
    min_steps: int = Field(300, ge=0)
    warmup_fraction: float = Field(0.1, ge=0, lt=1)  # share of steps with linear warm-up, then cosine decay
    # share of training rows cut after a random key, the next key (or the session-end key) masked in place of
    # the rest: a masked last position must then be read from the keys before it, not off where the row ends
    # (logbert.training.cuts). With window.session_bounds this is what makes a session that stops early score as
    # a surprising end. 0 = off (artifacts and configs from before this setting).
    cut_ratio: float = Field(0.0, ge=0.0, le=1.0)
    # probability per pair of adjacent keys that a training row has them swapped (two passes; session bounds never
    # move): lines written at about the same time by several threads or hosts reach the log in any order, and
    # a model that saw only some of those orders finds the others surprising (logbert.training.jitter). Key-only
    # models. 0 = off (artifacts and configs from before this setting)
    order_jitter: float = Field(0.0, ge=0.0, le=0.5)
    # batches of rows of similar length (shuffled within chunks of 32 batches, then the batches shuffled), so
    # a batch is padded to about its rows' own length instead of the longest row of a random draw; false =
    # plain shuffled batches (logbert.training.trainer.batch_order). Key-only models only: time- and value-aware
    # ones always train on plain shuffled batches (logbert.training.trainer._bucketed says why)
    bucket_by_length: bool = True
    # how often each training row is drawn: a distinct window logged c times is drawn in proportion to
    # c ** pattern_power (rows drawn with replacement, as many per pass as there are rows). 1 = as logged (every row
    # once a pass, the default); 0 = every distinct window equally often; between, rare normal patterns are drawn more
    # often than logged. Real logs repeat a few patterns thousands of times and a rare normal one a handful: the
    # model learns the rare one too little and flags it (HDFS 2 %: 2 of 2,000 training blocks hold a replication,
    # every normal replication block of the test scored above the threshold). "Distinct": the same keys in the same
    # order, or the same keys as a multiset for an order-free model (model.positions = false); a drawn row keeps its
    # own times and values (time- and value-aware models). logbert.training.trainer.pattern_weights
    pattern_power: float = Field(1.0, ge=0.0, le=1.0)
    patience: int = Field(5, ge=1)  # early stopping: epochs without validation improvement
    val_fraction: float = Field(0.1, gt=0, lt=1)  # share of normal sessions held out for early stopping + threshold
    test_fraction: float = Field(0.2, ge=0, lt=1)  # share of normal sessions held back for evaluation (0 = none)
    chronological_split: bool = True  # split sessions by start time when every session has one
    # chronological split: which older sessions validate (early stopping, the threshold's normal scores). "latest":
    # the slice just before the test sessions. "spread": a seeded random share of all the sessions before them, so
    # the threshold's normal scores cover the training period's mix of session types, not one stretch of it. HDFS
    # 2 % (seed 0): the latest 10 % spanned 1.75 h and were 99 % one 19-key session type, the tested 3.2 h after
    # them 61 % 13-key sessions, and the threshold they gave let 1.7 % of normal test sessions through for a stated
    # 0.5 % (docs/benchmarks.md, "Why the `hdfs` preset's false alarms on HDFS 2 % exceed the stated rate")
    val_sampling: Literal["latest", "spread"] = "latest"
    # where each epoch's VHM centre comes from (alpha > 0). "pass": a forward pass over the training data before every
    # epoch, as LogBERT's reference code. "steps": the mean DIST embedding of the previous epoch's training steps, the
    # very embeddings the hypersphere term pulls in (under masking, dropout and cuts), so no epoch but the first pays
    # a pass (0.44 s against an epoch's 1.6 s in benchmarks.speed). Not the default: on 25 and 50 training sessions
    # of DevStack, HDFS 2 % and the DeepLog keys (benchmarks/small_data, 6 seeds) the mean F1 was the same (0.951)
    # but the realised false-alarm rate a little higher (0.024 against 0.020; DevStack at 25: 0.046 against 0.019),
    # and equal at <= 2,000 (docs/benchmarks.md). Either way the artifact's centre, which scoring reads, comes from
    # one pass of the final model
    center_from: Literal["steps", "pass"] = "pass"
    # the centre passes during training (before every epoch with "pass", before the first with "steps") read at most
    # this many training rows, a seeded sample drawn afresh each epoch (0 = every row). The centre is a mean: 1,024
    # rows put it within about 3 % of the embeddings' RMS distance from the full-data centre (measured on the speed
    # bench's data: 2.8 % on average over 5 samples), a quarter of the noise of a 64-row batch's own mean, while a
    # full pass costs a quarter of an epoch at any size. The artifact's centre, which scoring reads, always comes
    # from every row of the final model
    center_rows: int = Field(1024, ge=0)
    seed: int = 42
    device: str = "cpu"
    num_threads: int = Field(0, ge=0)  # torch threads (training and scoring); 0 = auto: usable cores - 1, 1 to 4
    # "bf16": training steps' forward passes under torch.autocast(bfloat16); weights, optimiser, validation, the
    # centre and scoring stay fp32. Faster on GPUs; on a CPU with bf16 units (AVX512-BF16, AMX) a little faster
    # than fp32 (an AMD EPYC: DevStack 42-43 s against 44-49 s, the same decisions); several times slower on a CPU
    # without them, which `train` warns about (docs/benchmarks.md, "bf16 on a CPU with bf16 units")
    precision: Literal["fp32", "bf16"] = "fp32"
    # the training steps' fp32 matrix products on a CPU: "torch" (MKL's sgemm), "onednn" (oneDNN's, which uses
    # AVX-512 where MKL keeps to AVX2: AMD CPUs), "auto": oneDNN on a non-Intel CPU with AVX-512
    # (logbert.model.kernels.onednn_linear_pays; 1.2-1.3x faster training on an AMD EPYC, docs/benchmarks.md).
    # fp32 on every route; scoring always takes torch's
    cpu_matmul: Literal["auto", "torch", "onednn"] = "auto"
    # torch.compile the training step's model. On a CUDA GPU: every batch padded to the model's width and replayed
    # as CUDA graphs, 2.1-2.5x a plain loop's steps on an H200 after a compile of about 40 s (a long run's
    # setting); on a CPU: dynamic shapes, and slower on a small one (docs/benchmarks.md)
    compile: bool = False


class ScoringConfig(_Frozen):
    """Deterministic scoring and the threshold."""

    top_g: int = Field(6, ge=1)  # a masked key is a miss when its true id is not in the top-g predictions
    mask_strategy: MaskStrategy = "strided"  # strided: every position masked exactly once
    mask_stride: int = Field(4, ge=1)  # strided: pass p masks positions p, p+s, p+2s, ... (s passes)
    # strided: runs of this many adjacent keys are masked together, at each of its offsets (span x stride passes),
    # and a key's surprise is that of the mean prediction over its run, the least surprising of its runs counting
    # (logbert.scoring.scorer): which keys fill a few adjacent places, not which goes in which. Lines that
    # concurrent threads or hosts write at about the same time reach a log in any order, and a model that saw
    # only some of those orders finds the others as surprising as an anomaly. Key-only models; needs
    # mask_stride >= 2. 1 = one key at a time (artifacts and configs from before this setting)
    mask_span: int = Field(1, ge=1, le=8)
    n_rounds: int = Field(4, ge=1)  # seeded: number of random mask rounds
    seed: int = 1234  # seeded: fixed mask seed, so scores are deterministic
    score: ScoreKind = "miss_ratio"  # which score decides (higher = more anomalous)
    # the miss ratio counts keys outside the model's top-g predictions; when the model predicts among at most top_g
    # keys (a log of a few templates) no known key ever is one, and only an unseen template could be flagged: such
    # a model is scored by this instead (logbert.pipeline.fit.score_for_vocabulary). None = the miss ratio anyway
    score_for_few_keys: ScoreKind | None = "max_mean_nll"
    # window.mode "sliding" or "time": a window of an interleaved stream (several programs or hosts writing at once)
    # has no order of its own to learn, so the miss ratio counts ordering noise, and a few lines of a template never
    # seen in training (an OOM killer's, a segfault's) add too little to it: 3 of 20 keys. Such windows are scored by
    # this instead (max_nll: the largest key surprise; an unseen key scores nll_cap). None or "miss_ratio" = the miss
    # ratio anyway (logbert.pipeline.fit.score_for_vocabulary; docs/benchmarks.md, "Windows of an interleaved stream")
    score_for_windows: ScoreKind | None = "max_nll"
    nll_cap: float = Field(20.0, gt=0)  # mean_nll: surprise of one key is capped here; an unseen (UNK) key gets it
    # session mode: weight x the short-session surprise (nats; logbert.scoring.lengths) is added to the key score,
    # so a session that stops far shorter than the normal ones is flagged even where its early end key is only
    # as surprising as a rare normal key. 0 = off (and an artifact without a length reference)
    length_weight: float = Field(0.0, ge=0)
    # window.mode "time": weight x the volume surprise (nats; logbert.scoring.volume: how much busier than the normal
    # time windows a window is, its lines so far) is added to the key score, so a storm of known lines is flagged
    # where each piece of it looks normal. 0 = off (and artifacts from before this setting)
    volume_weight: float = Field(1.0, ge=0)
    threshold: ThresholdMethod = "normal_quantile"  # how the threshold is chosen, never on test data
    threshold_quantile: float = Field(0.995, gt=0, le=1)  # normal_quantile / pot: quantile of normal scores
    # the share of the training sessions expected to be anomalous: failures in a log trained on without labels.
    # The model learns them as normal and the quantile above lies above them, so nothing like them is ever flagged;
    # with this share set (when 1 - contamination is below threshold_quantile) the highest that share of the
    # calibration scores lie above the threshold, as pyod's `contamination`
    # (logbert.evaluation.thresholds.contamination_threshold). 0 = the training sessions are all normal (labels keep
    # the known anomalies out). docs/benchmarks.md, "Training data with failures in it"
    contamination: float = Field(0.0, ge=0, lt=0.5)
    # time- and value-aware models (model.signals): the quantile of a time or value channel's normal calibration scores
    # that is its scale (logbert.pipeline.estimator.channel_scales); None = threshold_quantile, as the key channel's.
    # 1.0 = their largest: the combined threshold then stays where the key channel alone would put it, and a time or
    # value flags a session only beyond every normal calibration session's. The `hdfs` preset sets 1.0 (on HDFS 2 %
    # times and block sizes tell nothing about the labelled failures, and their tails lifted the combined threshold:
    # F1 0.970 -> 0.980 over 3 seeds, key-only 0.982); on DeepLog OpenStack, where times and values decide, 1.0 let
    # more of the key channel's false alarms through (1 -> 2 and 1 -> 3 of 194 on seeds 0 and 1), so the default
    # stays. docs/time_values.md, "Extra channels beyond every normal session"
    signal_quantile: float | None = Field(None, gt=0, le=1)
    calibration: CalibrationMethod = "auto"  # which normal sessions' scores the threshold comes from
    calibration_folds: int = Field(5, ge=2, le=20)  # cross_fit: k fold models (k + 1 trainings in all)
    # cross_fit: each normal session's calibration score is the larger of its out-of-fold score and the final model's
    # score of it. New sessions are scored by the final model, and where it scores a common normal pattern a little
    # higher than the fold models did, every session of that pattern was flagged (the simulator, seed 2: 49 of 218
    # training sessions above the threshold, 13 of 55 normal test sessions flagged). docs/benchmarks.md,
    # "The final model's own scores in the calibration"
    calibrate_with_final: bool = True
    val_anomaly_fraction: float = Field(0.2, gt=0, lt=1)  # labelled_f1: share of anomalous sessions moved to val
    threshold_margin: float = Field(0.0, ge=0)  # added to the quantile; keeps ties with val scores out
    # miss_ratio, where the calibration sessions are too few for threshold_quantile and none of them missed a key
    # (the quantile is then their maximum, 0: any one miss flags a session; often so on 25-100 sessions): the
    # threshold is raised to what their keys allow for 1 - threshold_quantile, none missed among so many
    # (logbert.evaluation.thresholds.miss_ratio_floor), counting a template never seen in training as a miss that
    # new sessions bring as often as the calibration sessions brought theirs. DevStack at 25 / 50 sessions (6 seeds)
    # and 100 (3 seeds): F1 0.971 -> 0.984, 0.954 -> 0.975 and 0.968 -> 0.991, no threshold at 0 (was 3 of 6, 4 of 6
    # and 2 of 3). docs/benchmarks.md, "The keys' miss rate under a short calibration" and "A never-seen template is
    # a miss too". False = the quantile alone
    key_rate_floor: bool = True
    batch_size: int = Field(256, ge=1)

    @property
    def quantile(self) -> float:
        """Where among the calibration scores the threshold stands: ``threshold_quantile``, or ``1 - contamination``
        where that is lower (then :func:`~logbert.pipeline.calibrate.choose_threshold`, which the channel scales
        call too, leaves that share above it). The choice of calibration and the stored record read this one."""
        return min(self.threshold_quantile, 1.0 - self.contamination)

    @property
    def contaminated(self) -> bool:
        """``scoring.contamination`` sets the threshold (its ``1 - contamination`` is below ``threshold_quantile``):
        the training sessions are taken not to be all normal. One test for every place that acts on it."""
        return self.quantile < self.threshold_quantile

    @model_validator(mode="after")
    def _check(self) -> ScoringConfig:
        if self.mask_span > 1 and (self.mask_strategy != "strided" or self.mask_stride < 2):
            raise ValueError(
                f"mask_span={self.mask_span} masks runs of keys between visible ones: it needs mask_strategy="
                f"'strided' and mask_stride >= 2 (got {self.mask_strategy!r}, {self.mask_stride})"
            )
        if self.calibration == "cross_fit" and self.threshold == "labelled_f1":
            raise ValueError(
                "calibration='cross_fit' scores normal sessions only; threshold='labelled_f1' needs the labelled "
                "validation anomalies of the split: use calibration='split' (or 'auto')"
            )
        return self


class LogBertConfig(_Frozen):
    """Everything the pipeline needs; saved in the artifact as ``config.json``."""

    parser: ParserConfig = ParserConfig()
    window: WindowConfig = WindowConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    scoring: ScoringConfig = ScoringConfig()

    @model_validator(mode="after")
    def _check(self) -> LogBertConfig:
        if self.model.max_len < self.window.max_len:
            raise ValueError(f"model.max_len ({self.model.max_len}) must be >= window.max_len ({self.window.max_len})")
        if self.train.order_jitter > 0 and self.model.signals != "off":
            raise ValueError(
                f"train.order_jitter ({self.train.order_jitter}) swaps keys, which would leave their time and value "
                f"buckets behind: it needs model.signals='off' (got {self.model.signals!r})"
            )
        if self.scoring.mask_span > 1 and self.model.signals != "off":
            raise ValueError(
                f"scoring.mask_span ({self.scoring.mask_span}) is for key-only models: it needs model.signals='off' "
                f"(got {self.model.signals!r}); with signals, set scoring.mask_span=1 (openstack_devstack sets 2)"
            )
        return self

    @property
    def window_score(self) -> ScoreKind | None:
        """The score windows of a stream get in place of the miss ratio (``scoring.score_for_windows``, see there),
        None where the configured score stands: sessions, another score, or the setting off. Used by training
        (``logbert.pipeline.fit.score_for_vocabulary``) and shown by ``logbert presets``."""
        chosen = self.scoring.score_for_windows
        if self.scoring.score != "miss_ratio" or self.window.mode == "session" or chosen in (None, "miss_ratio"):
            return None
        return chosen

    def with_overrides(self, overrides: dict[str, Any]) -> LogBertConfig:
        """Return a copy with dotted-key overrides applied, e.g. ``{"train.epochs": 3}``; a section may also be given
        as a dict of its settings, as a TOML file writes it (``{"train": {"epochs": 3}}``).

        >>> LogBertConfig().with_overrides({"train": {"epochs": 3}, "window.max_len": 16}).train.epochs
        3
        """
        data = self.model_dump()
        flat: dict[str, Any] = {}
        for given, value in overrides.items():
            if "." not in given and isinstance(value, Mapping) and isinstance(data.get(given), dict):
                flat.update({f"{given}.{key}": v for key, v in value.items()})
            else:
                flat[given] = value
        for given, value in flat.items():
            dotted = _current_key(given, where="--set")
            section, _, key = dotted.partition(".")
            if not key and isinstance(data.get(section), dict):
                first = next(iter(data[section]))
                raise ConfigError(
                    f"{dotted!r} is a section of settings: set one of them ('{section}.{first}') or give the section "
                    f"as a dict of its settings ({{'{section}': {{'{first}': ...}}}})"
                )
            if section not in data or not isinstance(data[section], dict) or key not in data[section]:
                raise ConfigError(unknown_key_message(dotted))
            data[section][key] = value
        return config_from_dict(data)


#: Settings that were renamed, old dotted name -> new one. The old names keep loading (artifacts
#: trained before the rename, users' TOML files, ``--set`` flags); users are told the new name.
RENAMED_KEYS: dict[str, str] = {
    # "preset" means one thing only: a built-in set of settings (`--preset`, configs/*.toml)
    "window.session_preset": "window.session_id",
}


def unknown_key_message(dotted: str) -> str:
    """What a setting that does not exist is told, with the closest names (a renamed setting's current one): one
    rule for ``--set``, a ``--config`` file and any dict of settings (a TOML typo got pydantic's "Extra inputs are
    not permitted" where ``--set`` got the suggestion).

    >>> unknown_key_message("windows.session_pattern").split("; ")[1].split(" or ")[0]
    "did you mean 'window.session_pattern'"
    """
    sections = LogBertConfig().model_dump()
    known = [f"{s}.{k}" for s, fields in sections.items() for k in fields] + list(sections)
    close = difflib.get_close_matches(dotted, known + list(RENAMED_KEYS), n=3)
    close = list(dict.fromkeys(RENAMED_KEYS.get(c, c) for c in close))
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    return f"unknown config key {dotted!r}{hint}"


def _unknown_keys(data: Mapping[str, Any]) -> list[str]:
    """The dotted names of the settings in ``data`` (sections of keys, renamed ones already under their current
    names) that do not exist: every key of an unknown section (``[windows]``), the unknown keys of a known one. A
    known section given as no table is left to the validation, which says what it must be."""
    sections = LogBertConfig.model_fields
    unknown = []
    for section, value in data.items():
        if section not in sections:
            unknown += [f"{section}.{key}" for key in value] if isinstance(value, dict) and value else [section]
        elif isinstance(value, dict):
            fields = type(getattr(LogBertConfig(), section)).model_fields
            unknown += [f"{section}.{key}" for key in value if key not in fields]
    return unknown


def as_config(config: object) -> LogBertConfig:
    """``config``, or the defaults for None: what every library entry point that takes settings accepts.

    Raises:
        ConfigError: anything else (a dict of dotted keys is what ``load_config(overrides=...)`` reads).
    """
    if config is None:
        return LogBertConfig()
    if not isinstance(config, LogBertConfig):
        raise ConfigError(
            f"config must be a LogBertConfig, got {type(config).__name__}: build one with "
            "logbert.api.load_config(preset=..., overrides={'train.epochs': 3, ...})"
        )
    return config


def _current_key(dotted: str, *, where: str | None) -> str:
    """The current name of a dotted key; an old name is logged with ``where`` it was read (None = silent)."""
    new = RENAMED_KEYS.get(dotted)
    if new is None:
        return dotted
    if where is not None:
        logger.warning("%s: setting %r was renamed to %r; please use the new name", where, dotted, new)
    return new


def _renamed(data: dict[str, Any], *, where: str | None) -> dict[str, Any]:
    """``data`` (nested sections) with renamed settings under their current names.

    Raises:
        ConfigError: the old and the new name are both given, with different values.
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section, fields in out.items():
        if not isinstance(fields, dict):
            continue
        for key in [k for k in fields if f"{section}.{k}" in RENAMED_KEYS]:
            new_section, _, new_key = _current_key(f"{section}.{key}", where=where).partition(".")
            value = fields.pop(key)
            target = out.setdefault(new_section, {})
            if new_key in target and target[new_key] != value:
                raise ConfigError(
                    f"both {section}.{key} (old name) and {new_section}.{new_key} are set, differently; "
                    f"keep only {new_section}.{new_key}"
                )
            target[new_key] = value
    return out


def config_from_dict(data: dict[str, Any]) -> LogBertConfig:
    """Validate a nested dict into a :class:`LogBertConfig`.

    Settings under a name they had before a rename (:data:`RENAMED_KEYS`, e.g. an artifact's
    ``config.json`` written by an older version) are read under their current name, silently.

    Raises:
        ConfigError: with pydantic's message when a value is wrong or a key is unknown.
    """
    data = _renamed(data, where=None)
    if unknown := _unknown_keys(data):
        raise ConfigError("; ".join(map(unknown_key_message, unknown)))
    try:
        return LogBertConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid config: {describe_errors(exc.errors())}") from None


def describe_errors(errors: Sequence[ErrorDetails]) -> str:
    """pydantic's errors for people, one per setting, ``; ``-joined: its dotted name, the message, and the value given
    when it is a single one (``window.mode: Input should be 'session', 'sliding' or 'time' (got 'slidin')``); without
    pydantic's type tags and links. Every settings check of the project says its errors this way.

    >>> try:
    ...     LogBertConfig.model_validate({"window": {"mode": "slidin"}})
    ... except ValidationError as exc:
    ...     print(describe_errors(exc.errors()))
    window.mode: Input should be 'session', 'sliding' or 'time' (got 'slidin')
    """
    out = []
    for err in errors:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        given = err.get("input")
        shown = quoted(given[:80]) if isinstance(given, str) else repr(given)  # a regex as written: not repr's
        got = f" (got {shown})" if isinstance(given, str | int | float | bool) else ""
        message = err["msg"].removeprefix("Value error, ") + got
        listed = _list_expected(path, given) if err["type"] in ("tuple_type", "list_type") else ""
        if listed:
            message = f"expected a list, got {shown}: {listed}"
        out.append(f"{path}: {message}" if path else message)
    return "; ".join(out)


def _list_expected(dotted: str, given: object) -> str:
    """What a list setting of :class:`LogBertConfig` given as text is told, '' for another model's (a dataset
    file's): "Input should be a valid tuple" for `--set 'parser.extra_outcome_words=[Task]'` said neither that --set
    reads the value as JSON nor how to quote the words. For a list of texts, the words given as the JSON list that
    reads, and the TOML line.

    >>> print(_list_expected("parser.extra_outcome_words", "[Task, 'done']"))  # doctest: +NORMALIZE_WHITESPACE
    with --set, a JSON list, each text in double quotes: --set 'parser.extra_outcome_words=["Task","done"]' (in a
    --config file: extra_outcome_words = ["Task","done"])
    """
    section, _, key = dotted.partition(".")
    model = LogBertConfig.model_fields.get(section)
    annotation = model.annotation if model is not None else None
    field = getattr(annotation, "model_fields", {}).get(key)
    if field is None or not isinstance(given, str):
        return ""
    if "tuple[str, ...]" not in str(field.annotation):  # parser.masks: a list of tables
        return "with --set, a JSON list in brackets (in a --config file, a TOML array)"
    words = [w.strip().strip("\"'") for w in given.strip().removeprefix("[").removesuffix("]").split(",")]
    listed = json.dumps([w for w in words if w] or ["..."], separators=(",", ":"))
    return (
        f"with --set, a JSON list, each text in double quotes: --set '{dotted}={listed}' (in a "
        f"--config file: {key} = {listed})"
    )


def _layered(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the keys ``layer`` names replaced, section by section."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def preset_names() -> list[str]:
    """Names of the built-in presets (``src/logbert/configs/*.toml``)."""
    files = resources.files("logbert.configs").iterdir()
    return sorted(p.name.removesuffix(".toml") for p in files if p.name.endswith(".toml"))


def _preset_text(name: str) -> str:
    """The TOML text of a built-in preset.

    Raises:
        ConfigError: no preset has that name (with the names that exist, and a hint when the name
            is a header format rather than a preset).
    """
    names = preset_names()
    if name not in names:
        hint = ""
        if name in typing.get_args(FormatName):
            hint = f"; {name!r} is a header format, set it with --set parser.format={name}"
        elif close := difflib.get_close_matches(name, names, n=1):
            hint = f"; did you mean {close[0]!r}?"
        raise ConfigError(f"unknown preset {name!r}{hint} (built-in presets: {', '.join(names)})")
    return resources.files("logbert.configs").joinpath(f"{name}.toml").read_text("utf-8")


def preset_settings(name: str) -> dict[str, Any]:
    """The settings a built-in preset names (sections of keys), before they are layered on the defaults."""
    return _renamed(tomllib.loads(_preset_text(name)), where=f"preset {name}")


def preset_description(name: str) -> str:
    """The first sentence of a preset's TOML file's first comment paragraph (its leading ``#`` lines, joined): what
    kind of log it is for. A sentence may go on over several comment lines (the first line alone cut the access
    preset's mid-sentence); the rest of the paragraph is for whoever reads the file."""
    lines = _preset_text(name).splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("#")), len(lines))
    paragraph = []
    for line in lines[start:]:
        if not line.startswith("#") or not line.lstrip("#").strip():
            break
        paragraph.append(line.lstrip("#").strip())
    return _first_sentence(" ".join(paragraph))


def _first_sentence(text: str) -> str:
    """``text`` up to its first full stop outside parentheses (an "e.g." inside them ends nothing), or all of it.

    >>> _first_sentence("Logs (in a format, e.g. Apache's). A key is ...")
    "Logs (in a format, e.g. Apache's)."
    """
    depth = 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "." and depth <= 0 and text[i + 1 : i + 2] in ("", " "):
            return text[: i + 1]
    return text


def load_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None, *, preset: str | None = None
) -> LogBertConfig:
    """Defaults, then a built-in ``preset``, then the TOML file at ``path``, then dotted-key ``overrides``.

    Each layer changes only the keys it names, so a file can adjust a preset.

    Raises:
        ConfigError: the file is missing, is not TOML, holds an invalid value, the preset is unknown, or
            ``overrides`` is no mapping.
    """
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(
            f"overrides must be a mapping of dotted keys to values, e.g. {{'model.signals': 'all'}}, got "
            f"{type(overrides).__name__} {str(overrides)[:80]!r}"
        )
    data = preset_settings(preset) if preset is not None else {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            layer = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            # "\d" or "\S" in a basic string: the regex the user wrote, which TOML reads as a string escape
            regex = " (a regex in a basic string \"...\"? write it as a literal string '...', which keeps every " \
                "backslash as written)" if "Unescaped '\\'" in str(exc) else ""
            raise ConfigError(f"{p} is not valid TOML: {exc}{regex}") from None
        _control_characters(layer, p)
        layer = _renamed(layer, where=str(p))
        if unknown := _unknown_keys(layer):  # said with the file's name
            raise ConfigError(f"{p}: " + "; ".join(map(unknown_key_message, unknown)))
        data = _layered(data, layer)
    config = config_from_dict(data)
    return config.with_overrides(dict(overrides)) if overrides else config
