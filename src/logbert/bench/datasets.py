"""The datasets of the detection benchmark: what to read, how to label it, what each anomaly is.

A :class:`DatasetSpec` names one or more input files (raw logs or key-sequence files) with their
labels, the built-in config preset that reads them, and optionally files that give each
anomalous session a *type* (the DevStack fault injected). :func:`load_dataset` reads them with
:func:`logbert.api.read_corpus` and merges them into one :class:`BenchData`. The built-in
datasets live under ``../shared/datasets`` (see its README) and are described, as data, in
``datasets.toml`` beside this module (read once by :func:`builtin_datasets`);
:func:`parse_dataset_spec` turns a user's ``"my.log,labels=my.csv,preset=hdfs"`` into a spec.
"""

from __future__ import annotations

import functools
import logging
import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from logbert.config import LogBertConfig, describe_errors, load_config, preset_names
from logbert.datasets.labels import read_labels
from logbert.errors import ConfigError, InputDataError
from logbert.pipeline.corpus import Corpus, LineSession, merge_corpora, read_corpus
from logbert.records import KeySequence

__all__ = [
    "BUILTIN_DATASETS",
    "BenchData",
    "DatasetSpec",
    "InputFile",
    "builtin_datasets",
    "dataset_specs_from_toml",
    "load_dataset",
    "parse_dataset_spec",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InputFile:
    """One file of a dataset: a raw log or a key-sequence file.

    ``labels`` (a labels file) or ``label`` (every session gets it) says what is anomalous; with
    neither, a raw log with per-line labels (BGL) labels itself and anything else is normal.
    """

    path: Path
    labels: Path | None = None
    label: int | None = None


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """A benchmark dataset: files, preset, and how to read its results.

    Attributes:
        name: short id used in file names and tables.
        title: one line for the report.
        preset: built-in config preset that reads the files (``logbert.config.preset_names()``).
        inputs: the files; a session id already read from an earlier input is not read again.
        recall_only: the data has no realistic normal test population (DeepLog's HDFS keys):
            precision, F1 and AUPRC are not meaningful and shown as n/a.
        type_files: ``(type name, labels file)``: anomalous sessions the file labels anomalous
            get that type, for per-anomaly-type recall.
        other_type: type of the anomalous sessions no ``type_files`` names (when there are some).
        notes: what a reader must know to read the numbers (shown in the report).
    """

    name: str
    title: str
    preset: str
    inputs: tuple[InputFile, ...]
    recall_only: bool = False
    type_files: tuple[tuple[str, Path], ...] = ()
    other_type: str = "other"
    notes: tuple[str, ...] = ()

    def missing_files(self) -> list[Path]:
        """Files this spec needs that do not exist."""
        paths = [f.path for f in self.inputs] + [f.labels for f in self.inputs if f.labels is not None]
        paths += [p for _, p in self.type_files]
        return [p for p in paths if not p.is_file()]


@dataclass(slots=True)
class BenchData:
    """A loaded dataset: every labelled session, before the split (keys come per split, from a parser
    mined on that split's training lines: :func:`logbert.pipeline.split.split_and_key`)."""

    spec: DatasetSpec
    config: LogBertConfig
    corpus: Corpus
    anomaly_types: dict[str, str]  # session id -> type, anomalous sessions only (empty: no types)
    n_duplicate_sessions: int = 0  # sessions of a later input whose id an earlier input already had
    n_subsampled_out: int = 0  # sessions left out by the max_normal / max_abnormal caps
    notes: list[str] = field(default_factory=list)

    @property
    def sequences(self) -> Sequence[LineSession] | Sequence[KeySequence]:
        """The labelled sessions (line sessions of a raw log, or key sequences)."""
        return self.corpus.units


_U = TypeVar("_U", LineSession, KeySequence)


def _subsample(
    units: Sequence[_U], max_normal: int | None, max_abnormal: int | None, seed: int = 0
) -> tuple[list[_U], int]:
    """Keep at most ``max_normal`` normal and ``max_abnormal`` anomalous sessions (seeded, order kept).

    A session without a label counts as normal (no labels file and no per-line label).
    """
    labelled = [u if u.label is not None else replace(u, label=0) for u in units]
    rng = random.Random(seed)
    keep: set[int] = set()
    for want, cap in ((0, max_normal), (1, max_abnormal)):
        idx = [i for i, s in enumerate(labelled) if (s.label == 1) == (want == 1)]
        if cap is not None and len(idx) > cap:
            idx = rng.sample(idx, cap)
        keep.update(idx)
    kept = [s for i, s in enumerate(labelled) if i in keep]
    return kept, len(labelled) - len(kept)


def _capped(corpus: Corpus, max_normal: int | None, max_abnormal: int | None) -> tuple[Corpus, int]:
    if corpus.kind == "keys":
        keys, n_out = _subsample(corpus.key_sequences, max_normal, max_abnormal)
        return replace(corpus, key_sequences=tuple(keys)), n_out
    lines, n_out = _subsample(corpus.line_sessions, max_normal, max_abnormal)
    return replace(corpus, line_sessions=tuple(lines)), n_out


def load_dataset(spec: DatasetSpec, *, max_normal: int | None = None, max_abnormal: int | None = None) -> BenchData:
    """Read every input of ``spec`` into one labelled corpus.

    Args:
        spec: the dataset.
        max_normal: keep at most this many normal sessions (seeded sample; None = all).
        max_abnormal: the same for anomalous sessions.

    Raises:
        InputDataError: a file is missing or unusable, or no session is both labelled and present.
        ConfigError: unknown preset.
    """
    missing = spec.missing_files()
    if missing:
        raise InputDataError(f"dataset {spec.name}: missing file(s) {', '.join(str(p) for p in missing)}")
    config = load_config(preset=spec.preset)
    corpora = [read_corpus(f.path, config, labels=f.labels, label=f.label) for f in spec.inputs]
    corpus, n_dup = merge_corpora(corpora)
    corpus, n_out = _capped(corpus, max_normal, max_abnormal)
    types: dict[str, str] = {}
    if spec.type_files:
        anomalous = {s.session_id for s in corpus.units if s.label == 1}
        for type_name, path in spec.type_files:
            for sid, lab in read_labels(path).by_id.items():
                if lab == 1 and sid in anomalous:
                    types.setdefault(sid, type_name)
        for sid in anomalous:
            types.setdefault(sid, spec.other_type)
    n_abnormal = sum(s.label == 1 for s in corpus.units)
    if not corpus.units or n_abnormal == 0:
        raise InputDataError(f"dataset {spec.name}: no anomalous session to evaluate on")
    notes = list(spec.notes)
    if n_dup:
        notes.append(f"{n_dup} sessions of a later file repeat an id of an earlier one: the first copy is used")
    return BenchData(spec, config, corpus, types, n_dup, n_out, notes)


# --------------------------------------------------------------------------------------------
# Built-in datasets (../shared/datasets), described in datasets.toml beside this module
# --------------------------------------------------------------------------------------------

_BUILTIN_TOML = "datasets.toml"


class _InputEntry(BaseModel):
    """``[[dataset.input]]``: one file, relative to the datasets root."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    path: str = Field(min_length=1)
    labels: str | None = Field(default=None, min_length=1)
    label: Literal[0, 1] | None = None

    @model_validator(mode="after")
    def _check(self) -> _InputEntry:
        if self.labels is not None and self.label is not None:
            raise ValueError("give labels (a file) or label (0 or 1), not both")
        return self


class _TypeFileEntry(BaseModel):
    """``[[dataset.type_file]]``: anomalous sessions the labels file marks anomalous get ``type``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    type: str = Field(min_length=1)
    labels: str = Field(min_length=1)


class _DatasetEntry(BaseModel):
    """``[[dataset]]``: the TOML form of a :class:`DatasetSpec`, paths relative to the datasets root."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    preset: str
    input: list[_InputEntry] = Field(min_length=1)
    recall_only: bool = False
    type_file: list[_TypeFileEntry] = []
    other_type: str = "other"
    notes: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> _DatasetEntry:
        if self.preset not in preset_names():
            raise ValueError(f"unknown preset {self.preset!r}; built-in: {', '.join(preset_names())}")
        for rel in (
            [f.path for f in self.input]
            + [f.labels for f in self.input if f.labels]
            + [t.labels for t in self.type_file]
        ):
            if Path(rel).is_absolute():
                raise ValueError(f"path {rel!r} must be relative to the datasets root")
        return self

    def spec(self, root: Path) -> DatasetSpec:
        return DatasetSpec(
            name=self.name,
            title=self.title,
            preset=self.preset,
            inputs=tuple(
                InputFile(root / f.path, labels=None if f.labels is None else root / f.labels, label=f.label)
                for f in self.input
            ),
            recall_only=self.recall_only,
            type_files=tuple((t.type, root / t.labels) for t in self.type_file),
            other_type=self.other_type,
            notes=tuple(self.notes),
        )


class _DatasetsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    dataset: list[_DatasetEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> _DatasetsFile:
        names = [d.name for d in self.dataset]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate dataset name(s): {', '.join(dup)}")
        return self


def _describe(errors: list[ErrorDetails], data: dict[str, Any]) -> str:
    """pydantic errors as ``dataset[1] (name): input[0].labels: message`` lines."""
    out = []
    for err in errors:
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "dataset" and isinstance(loc[1], int):
            entries = data.get("dataset")
            entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"dataset[{loc[1]}]" + (f" ({name})" if isinstance(name, str) else "")
            loc = loc[2:]
        said = describe_errors([{**err, "loc": tuple(loc)}])
        out.append(f"{where}: {said}" if where else said)
    return "; ".join(out)


def dataset_specs_from_toml(text: str, root: str | Path, *, source: str = "<string>") -> list[DatasetSpec]:
    """The datasets of a TOML text in the ``datasets.toml`` schema, paths resolved against ``root``.

    Raises:
        ConfigError: not TOML, an unknown key, a wrong type, an unknown preset, a missing required
            field, an absolute path, a duplicate name, both ``labels`` and ``label`` on one input.
    """
    return [entry.spec(Path(root)) for entry in _parse_table(text, source)]


def _parse_table(text: str, source: str) -> list[_DatasetEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    try:
        return _DatasetsFile.model_validate(data).dataset
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid dataset table: {_describe(exc.errors(), data)}") from None


@functools.cache
def _builtin_table() -> tuple[_DatasetEntry, ...]:
    """The shipped ``datasets.toml``, read and validated once."""
    text = resources.files("logbert.bench").joinpath(_BUILTIN_TOML).read_text("utf-8")
    return tuple(_parse_table(text, f"logbert/bench/{_BUILTIN_TOML}"))


#: Names of the built-in datasets, in report order (the order of ``datasets.toml``).
BUILTIN_DATASETS: tuple[str, ...] = tuple(entry.name for entry in _builtin_table())


def builtin_datasets(root: str | Path) -> dict[str, DatasetSpec]:
    """The real datasets of ``root`` (``../shared/datasets``), by name; files are not checked here."""
    r = Path(root)
    return {entry.name: entry.spec(r) for entry in _builtin_table()}


def parse_dataset_spec(text: str) -> DatasetSpec:
    """A user dataset from ``"PATH[,labels=FILE][,abnormal=FILE][,preset=NAME][,name=NAME]"``.

    ``PATH`` is a raw log or key-sequence file; ``labels`` labels its sessions; ``abnormal`` adds
    a file whose sessions are all anomalous (e.g. DeepLog's ``hdfs_test_abnormal``); ``preset``
    is a built-in config preset (default: ``keys`` for a key file, else ``openstack``).

    Raises:
        ConfigError: an empty path, an unknown key or preset.
        InputDataError: a named file does not exist.
    """
    from logbert.pipeline.corpus import input_kind

    head, *rest = [part.strip() for part in text.split(",")]
    if not head:
        raise ConfigError(f"dataset spec {text!r}: the first item must be a file path")
    opts: dict[str, str] = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if not sep or key not in ("labels", "abnormal", "preset", "name"):
            raise ConfigError(f"dataset spec {text!r}: expected labels=, abnormal=, preset= or name=, got {part!r}")
        opts[key] = value
    path = Path(head)
    kind = input_kind(path)
    preset = opts.get("preset", "keys" if kind == "keys" else "openstack")
    if preset not in preset_names():
        raise ConfigError(f"dataset spec {text!r}: unknown preset {preset!r}; built-in: {', '.join(preset_names())}")
    labels = Path(opts["labels"]) if "labels" in opts else None
    inputs = [InputFile(path, labels=labels, label=0 if labels is None and "abnormal" in opts else None)]
    if "abnormal" in opts:
        inputs.append(InputFile(Path(opts["abnormal"]), label=1))
    spec = DatasetSpec(
        name=opts.get("name", path.stem),
        title=f"user data: {path.name}",
        preset=preset,
        inputs=tuple(inputs),
    )
    missing = spec.missing_files()
    if missing:
        raise InputDataError(f"dataset spec {text!r}: file(s) not found: {', '.join(str(p) for p in missing)}")
    return spec
