"""The datasets of the detection benchmark: what to read, how to label it, what each anomaly is.

A :class:`DatasetSpec` names one or more input files (raw logs or key-sequence files) with their
labels, the built-in config preset that reads them, and optionally files that give each
anomalous session a *type* (the DevStack fault injected). :func:`load_dataset` reads them with
:func:`logbert.api.read_corpus` and merges them into one :class:`BenchData`. The built-in
datasets live under ``../shared/datasets`` (see its README); :func:`parse_dataset_spec` turns a
user's ``"my.log,labels=my.csv,preset=hdfs"`` into a spec.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from logbert.api import Corpus, read_corpus
from logbert.config import LogBertConfig, load_config, preset_names
from logbert.datasets.labels import read_labels
from logbert.errors import ConfigError, InputDataError
from logbert.records import KeySequence, LogLine, ReadReport

__all__ = [
    "BUILTIN_DATASETS",
    "BenchData",
    "DatasetSpec",
    "InputFile",
    "builtin_datasets",
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
    """A loaded dataset: every labelled session, before the split.

    For raw logs each sequence's ``key_ids`` are indices into ``corpus.lines`` (the parser is
    mined per split, on training lines only); for key files they are key ids.
    """

    spec: DatasetSpec
    config: LogBertConfig
    corpus: Corpus
    anomaly_types: dict[str, str]  # session id -> type, anomalous sessions only (empty: no types)
    n_duplicate_sessions: int = 0  # sessions of a later input whose id an earlier input already had
    n_subsampled_out: int = 0  # sessions left out by the max_normal / max_abnormal caps
    notes: list[str] = field(default_factory=list)

    @property
    def sequences(self) -> list[KeySequence]:
        return self.corpus.sequences


def _merge(corpora: list[Corpus]) -> tuple[Corpus, int]:
    """One corpus from several inputs of the same kind; first occurrence of a session id wins."""
    kinds = {c.kind for c in corpora}
    if len(kinds) != 1:
        raise InputDataError(f"a dataset cannot mix raw logs and key files (got {sorted(kinds)})")
    first = corpora[0]
    if len(corpora) == 1:
        return first, 0
    seen: set[str] = set()
    lines: list[LogLine] = []
    sequences: list[KeySequence] = []
    n_dup = 0
    report = ReadReport()
    for corpus in corpora:
        offset = len(lines)
        lines.extend(corpus.lines)
        for name in ("n_lines", "n_parsed", "n_malformed", "n_binary", "n_truncated", "n_empty", "n_without_session"):
            setattr(report, name, getattr(report, name) + getattr(corpus.report, name))
        for seq in corpus.sequences:
            if seq.session_id in seen:
                n_dup += 1
                continue
            seen.add(seq.session_id)
            if corpus.kind == "raw":
                seq.key_ids = [i + offset for i in seq.key_ids]
            sequences.append(seq)
    return Corpus(first.kind, sequences, report, lines, sum(c.n_unlabelled for c in corpora)), n_dup


def _subsample(
    sequences: list[KeySequence], max_normal: int | None, max_abnormal: int | None, seed: int = 0
) -> tuple[list[KeySequence], int]:
    """Keep at most ``max_normal`` normal and ``max_abnormal`` anomalous sessions (seeded, order kept)."""
    rng = random.Random(seed)
    keep: set[int] = set()
    for want, cap in ((0, max_normal), (1, max_abnormal)):
        idx = [i for i, s in enumerate(sequences) if (s.label == 1) == (want == 1)]
        if cap is not None and len(idx) > cap:
            idx = rng.sample(idx, cap)
        keep.update(idx)
    kept = [s for i, s in enumerate(sequences) if i in keep]
    return kept, len(sequences) - len(kept)


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
    corpus, n_dup = _merge(corpora)
    for seq in corpus.sequences:  # no labels file and no per-line label: everything is normal
        if seq.label is None:
            seq.label = 0
    corpus.sequences, n_out = _subsample(corpus.sequences, max_normal, max_abnormal)
    types: dict[str, str] = {}
    if spec.type_files:
        anomalous = {s.session_id for s in corpus.sequences if s.label == 1}
        for type_name, path in spec.type_files:
            for sid, lab in read_labels(path).by_id.items():
                if lab == 1 and sid in anomalous:
                    types.setdefault(sid, type_name)
        for sid in anomalous:
            types.setdefault(sid, spec.other_type)
    n_abnormal = sum(s.label == 1 for s in corpus.sequences)
    if not corpus.sequences or n_abnormal == 0:
        raise InputDataError(f"dataset {spec.name}: no anomalous session to evaluate on")
    notes = list(spec.notes)
    if n_dup:
        notes.append(f"{n_dup} sessions of a later file repeat an id of an earlier one: the first copy is used")
    return BenchData(spec, config, corpus, types, n_dup, n_out, notes)


# --------------------------------------------------------------------------------------------
# Built-in datasets (../shared/datasets)
# --------------------------------------------------------------------------------------------

#: Names of the built-in datasets, in report order.
BUILTIN_DATASETS: tuple[str, ...] = (
    "devstack",
    "deeplog_openstack_listed",
    "deeplog_openstack_abnormal_file",
    "hdfs_2pct",
    "hdfs_deeplog_keys",
    "bgl_2k",
)


def builtin_datasets(root: str | Path) -> dict[str, DatasetSpec]:
    """The real datasets of ``root`` (``../shared/datasets``), by name; files are not checked here."""
    r = Path(root)
    kal = r / "openstack" / "kalaki_devstack"
    dl = r / "openstack" / "deeplog_openstack"
    dl_normal = InputFile(dl / "openstack_normal1.instance_lines.log", label=0)
    specs = [
        DatasetSpec(
            name="devstack",
            title="OpenStack DevStack nova (Kalaki et al.), sessions = VM instances",
            preset="openstack_devstack",
            inputs=(
                InputFile(kal / "openstack-nova-sample.log", labels=kal / "openstack-nova-sample.instance_labels.csv"),
                InputFile(kal / "openstack-nova-dhcpoff.log", label=1),
            ),
            type_files=(
                ("DHCP off", kal / "openstack-nova-dhcpoff.instance_labels.csv"),
                ("destroy after create", kal / "openstack-vm-destroy-immediately-after-create.instance_labels.csv"),
            ),
            other_type="other fault (sample log only)",
            notes=(
                "Sessions: every instance of openstack-nova-sample.log (982 normal, 180 anomalous) plus the "
                "dhcpoff instances not already in it (all anomalous) = 982 normal + 331 anomalous, the "
                "authors' composite label set.",
                "The 78 labelled instances of the destroy-after-create log also occur in the sample log, "
                "preprocessed like the rest of it; that copy is used (the raw copy writes the request context "
                "differently, which a parser mined on sample lines would flag for the wrong reason). Its 119 "
                "unlabelled instances are left out.",
                "Anomaly type = file of origin: DHCP off, destroy after create, or a fault only the sample log "
                "has (mostly 'Failed to start libvirt guest').",
                "No timestamps: the split is a seeded shuffle of sessions, different for every seed.",
            ),
        ),
        DatasetSpec(
            name="deeplog_openstack_listed",
            title="DeepLog / loghub OpenStack, official labels (4 listed instances anomalous)",
            preset="openstack",
            inputs=(
                dl_normal,
                InputFile(dl / "openstack_abnormal.instance_lines.log", labels=dl / "anomaly_labels.txt"),
            ),
            notes=(
                "Only 4 anomalous sessions, and their key sequences are identical to those of many normal "
                "sessions (README): their only signal is timing and parameter values, which no detector here "
                "sees. Expect chance level (AUROC about 0.5); any figure on 4 anomalies is noise.",
                "Chronological split: the abnormal file was recorded two days earlier, so its normal "
                "instances mostly train.",
            ),
        ),
        DatasetSpec(
            name="deeplog_openstack_abnormal_file",
            title="DeepLog / loghub OpenStack, every instance of openstack_abnormal.log anomalous (198)",
            preset="openstack",
            inputs=(dl_normal, InputFile(dl / "openstack_abnormal.instance_lines.log", label=1)),
            notes=(
                "Label convention used by several re-implementations. Most 'anomalous' instances behave "
                "normally: the label marks the day of recording, not a fault, so high scores partly measure "
                "drift between two recordings two days apart.",
            ),
        ),
        DatasetSpec(
            name="hdfs_2pct",
            title="HDFS 2 % raw (LogLead sample), sessions = blocks",
            preset="hdfs",
            inputs=(
                InputFile(
                    r / "hdfs" / "loglead_2pct" / "HDFS_2pct.log",
                    labels=r / "hdfs" / "loglead_2pct" / "anomaly_label_2pct.csv",
                ),
            ),
            notes=("Chronological split (blocks ordered by first timestamp): same split for every seed.",),
        ),
        DatasetSpec(
            name="hdfs_deeplog_keys",
            title="HDFS, DeepLog's key sessions (hdfs_train + hdfs_test_abnormal); recall only",
            preset="keys",
            inputs=(
                InputFile(r / "hdfs" / "deeplog_keys" / "hdfs_train", label=0),
                InputFile(r / "hdfs" / "deeplog_keys" / "hdfs_test_abnormal", label=1),
            ),
            recall_only=True,
            notes=(
                "The 553,366 normal test sessions are not available, so the normal test sessions are a "
                "held-out share of hdfs_train: recall and FPR are meaningful, precision/F1/AUPRC are not "
                "(shown as n/a); AUROC ranks held-out normal against anomalous sessions.",
            ),
        ),
        DatasetSpec(
            name="bgl_2k",
            title="BGL 2k (loghub sample), windows of 20 lines; smoke test only",
            preset="bgl",
            inputs=(InputFile(r / "bgl" / "loghub_2k" / "BGL_2k.log"),),
            notes=(
                "2,000 lines sampled over 213 days: about 100 windows. A smoke test of the pipeline, not a "
                "measurement; one window = one session.",
            ),
        ),
    ]
    out = {s.name: s for s in specs}
    assert tuple(out) == BUILTIN_DATASETS  # internal invariant: names and order agree
    return out


def parse_dataset_spec(text: str) -> DatasetSpec:
    """A user dataset from ``"PATH[,labels=FILE][,abnormal=FILE][,preset=NAME][,name=NAME]"``.

    ``PATH`` is a raw log or key-sequence file; ``labels`` labels its sessions; ``abnormal`` adds
    a file whose sessions are all anomalous (e.g. DeepLog's ``hdfs_test_abnormal``); ``preset``
    is a built-in config preset (default: ``keys`` for a key file, else ``openstack``).

    Raises:
        ConfigError: an empty path, an unknown key or preset.
        InputDataError: a named file does not exist.
    """
    from logbert.api import input_kind

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
