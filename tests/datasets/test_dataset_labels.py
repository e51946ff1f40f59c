"""Labels of the real datasets, read the way production reads them: :func:`read_labels` for label
files and :func:`read_corpus` (with the benchmark's presets and inputs, ``bench/datasets.toml``)
for labelled sessions."""

from pathlib import Path

import pytest

from logbert.bench.datasets import InputFile, builtin_datasets
from logbert.config import load_config
from logbert.datasets.labels import read_labels, session_label_from_lines
from logbert.errors import InputDataError
from logbert.pipeline.corpus import Corpus, merge_corpora, read_corpus
from tests.conftest import DATASETS, dataset_path

KALAKI = "openstack/kalaki_devstack/"
DEEPLOG = "openstack/deeplog_openstack/"


def _counts(corpus: Corpus) -> tuple[int, int]:
    """(sessions, anomalous sessions)."""
    return len(corpus.units), sum(u.label == 1 for u in corpus.units)


def test_kalaki_sample_and_composite() -> None:
    sample = read_labels(dataset_path(KALAKI + "openstack-nova-sample.instance_labels.csv"))
    assert sample.format == "session_csv"
    assert (len(sample.by_id), sample.n_anomalous) == (1162, 180)
    assert sample.by_id["11760334-ac63-4cc8-9086-578422af8c99"] == 0 and sample.absent_label is None
    assert sample.get("00000000-0000-0000-0000-000000000000") is None  # not named: unknown, not normal
    composite = read_labels(dataset_path(KALAKI + "instance_labels_composite.csv"))
    assert (len(composite.by_id), composite.n_anomalous) == (1313, 331)
    assert all(not k.startswith("instance") for k in composite.by_id)  # "instance: <uuid>" -> "<uuid>"
    destroy = read_labels(dataset_path(KALAKI + "openstack-vm-destroy-immediately-after-create.instance_labels.csv"))
    assert (destroy.n_anomalous, destroy.n_unlabelled) == (78, 119)


def test_loghub_openstack_anomaly_labels_list() -> None:
    listed = read_labels(dataset_path(DEEPLOG + "anomaly_labels.txt"))
    assert listed.format == "id_list" and listed.absent_label == 0
    assert len(listed.by_id) == 4 and set(listed.by_id.values()) == {1}


def test_loghub_openstack_both_conventions() -> None:
    """The DeepLog OpenStack set under both labelling conventions, read as the benchmark reads it."""
    labels_txt = dataset_path(DEEPLOG + "anomaly_labels.txt")
    abnormal = dataset_path(DEEPLOG + "openstack_abnormal.instance_lines.log")
    normal = dataset_path(DEEPLOG + "openstack_normal1.instance_lines.log")
    # the inputs these datasets are built from, as bench/datasets.toml describes them
    listed_spec = builtin_datasets(DATASETS)["deeplog_openstack_listed"]
    whole_spec = builtin_datasets(DATASETS)["deeplog_openstack_abnormal_file"]
    assert listed_spec.inputs == (InputFile(normal, label=0), InputFile(abnormal, labels=labels_txt))
    assert whole_spec.inputs == (InputFile(normal, label=0), InputFile(abnormal, label=1))
    assert listed_spec.preset == whole_spec.preset == "openstack"
    config = load_config(preset="openstack")
    normal_corpus = read_corpus(normal, config, label=0)
    # "listed" (official): only the 4 instances of anomaly_labels.txt are anomalous; every other
    # instance of the abnormal log is normal (an id list labels what it does not name 0)
    listed_part = read_corpus(abnormal, config, labels=labels_txt)
    # "abnormal_file": every instance of openstack_abnormal.log is anomalous
    whole_part = read_corpus(abnormal, config, label=1)
    assert _counts(normal_corpus) == (557, 0)
    assert _counts(listed_part) == (198, 4) and listed_part.n_unlabelled == 0
    assert _counts(whole_part) == (198, 198)
    listed, n_dup_listed = merge_corpora([normal_corpus, listed_part])
    whole, n_dup_whole = merge_corpora([normal_corpus, whole_part])
    assert n_dup_listed == n_dup_whole == 0  # no instance occurs in both recordings
    assert _counts(listed) == (755, 4)
    assert _counts(whole) == (755, 198)
    listed_anomalous = {u.session_id for u in listed.units if u.label == 1}
    assert listed_anomalous == set(read_labels(labels_txt).by_id)
    assert listed_anomalous <= {u.session_id for u in whole.units if u.label == 1}
    assert {u.session_id for u in listed.units} == {u.session_id for u in whole.units}


def test_hdfs_labels() -> None:
    csv_labels = read_labels(dataset_path("hdfs/loglead_2pct/anomaly_label_2pct.csv"))
    assert csv_labels.format == "session_csv"
    assert (len(csv_labels.by_id), csv_labels.n_anomalous) == (11501, 350)
    ids = read_labels(dataset_path("hdfs/anomaly_blocks/anomalous_block_ids.txt"))
    assert ids.format == "id_list"
    assert len(ids.by_id) == 16838 and ids.absent_label == 0 and ids.get("blk_1") == 0
    assert ids.get("blk_-3544583377289625738") == 1


def test_bgl_and_thunderbird_line_labels() -> None:
    bgl = read_labels(dataset_path("bgl/loghub_2k/BGL_2k.log"))
    assert bgl.format == "line_labels" and bgl.absent_label is None
    assert (len(bgl.by_id), bgl.n_anomalous, bgl.n_unlabelled) == (2000, 143, 0)
    assert set(bgl.by_id) == {str(n) for n in range(1, 2001)}  # keys: 1-based line numbers
    tb = read_labels(dataset_path("thunderbird/loghub_2k/Thunderbird_2k.log"))
    assert tb.format == "line_labels"
    assert (len(tb.by_id), tb.n_anomalous) == (2000, 0)


def test_bgl_windows_take_the_label_of_their_lines() -> None:
    """bgl_2k of the benchmark: windows labelled from the lines' own Label field, by the one rule;
    a labels file of per-line labels (the log itself) gives the same windows the same labels."""
    path = dataset_path("bgl/loghub_2k/BGL_2k.log")
    config = load_config(preset="bgl")
    windows = read_corpus(path, config)
    assert len(windows.units) == 100 and all(len(u.rows) == 20 for u in windows.line_sessions)
    line_labels = read_labels(path)
    expected = [
        session_label_from_lines(line_labels.get(str(windows.lines[i].line_no)) for i in u.rows)
        for u in windows.line_sessions
    ]
    assert [u.label for u in windows.units] == expected
    assert 0 < sum(expected) <= 143  # the 143 alert lines fall in some of the windows
    from_file = read_corpus(path, config, labels=path)
    assert [u.label for u in from_file.units] == expected


def test_session_label_from_lines_rule() -> None:
    assert session_label_from_lines([0, 1]) == 1  # any alert line: anomalous
    assert session_label_from_lines([0, None, 0]) == 0  # every labelled line normal: normal
    assert session_label_from_lines([None]) is None  # no labelled line: unknown
    assert session_label_from_lines([]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BlockId,Label\nblk_1,Normal\nblk_-2,Anomaly\n", {"blk_1": 0, "blk_-2": 1}),
        ("instance_id,Label,n\nabc,normal,3\nabd,Anomaly,4\nabe,unlabeled,1\n", {"abc": 0, "abd": 1}),
        (
            'BlockId,Label\n"instance: 11760334-ac63-4cc8-9086-578422af8c99",Anomaly\n',
            {"11760334-ac63-4cc8-9086-578422af8c99": 1},
        ),
        ("Some header text.\n\nblk_5\nblk_-6\n", {"blk_5": 1, "blk_-6": 1}),
        ("BlockId,Label\nblk_1,Normal\nblk_1,Anomaly\n", {"blk_1": 1}),  # conflict: anomalous wins
        # ids of other shapes, and the usual names of an anomaly flag (both were "not a label file I know")
        ("req-00050\nreq-00120\n", {"req-00050": 1, "req-00120": 1}),
        ("request_id\njob_7\nweb-01.example\n", {"job_7": 1, "web-01.example": 1}),
        # a Windows export's column name is the header, not an id (it was read as one, "names no session")
        ("LogonId\n0x5b9c9c\n0x5ba011\n", {"0x5b9c9c": 1, "0x5ba011": 1}),
        ("# anomalous orders\nord-1\n", {"ord-1": 1}),
        ("The failed jobs:\njob_7\njob_9\n", {"job_7": 1, "job_9": 1}),
        ("request_id,is_anomaly\nreq-1,0\nreq-2,1\n", {"req-1": 0, "req-2": 1}),
        ("when,anomaly,request_id\n10:00,false,r1\n10:01,true,r2\n", {"r1": 0, "r2": 1}),
    ],
)
def test_sniffed_small_files(tmp_path: Path, text: str, expected: dict[str, int]) -> None:
    p = tmp_path / "labels.txt"
    p.write_text(text)
    assert read_labels(p).by_id == expected


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty.*goes to evaluate as --normal LOG"),  # an empty list of anomalous ids: all normal, said how
        (b"hello world\nthis is not a label file\n", "not a label file"),
        # (\xff\xfe first would be UTF-16's byte-order mark: read as text)
        (b"\x80\xfe\x00garbage\x00\n", r"1 of 1 lines are not text \(invalid UTF-8"),
        (b"BlockId,Label\nblk_1,maybe\n", "unknown label value"),
        (b"BlockId,Label\nblk_1\n", "cells"),
        (b"header\nblk_1\nnot an id line\n", "one session id per line"),
    ],
)
def test_garbage_is_a_clear_error(tmp_path: Path, content: bytes, match: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(InputDataError, match=match):
        read_labels(p)


def test_a_utf16_label_file_reads_as_the_utf8_one(tmp_path: Path) -> None:
    """A labels CSV saved by a Windows tool as UTF-16 (a byte-order mark first) is read as text, as logs are."""
    text = "BlockId,Label\nblk_1,Anomaly\nblk_2,Normal\n"
    utf8, utf16 = tmp_path / "utf8.csv", tmp_path / "utf16.csv"
    utf8.write_text(text, encoding="utf-8")
    utf16.write_bytes(text.replace("\n", "\r\n").encode("utf-16"))
    assert read_labels(utf16).by_id == read_labels(utf8).by_id == {"blk_1": 1, "blk_2": 0}


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="not found"):
        read_labels(tmp_path / "nope.csv")
    with pytest.raises(InputDataError, match="directory"):
        read_labels(tmp_path)


def test_merged_inputs_sum_every_count_of_their_lines() -> None:
    """Several inputs read as one: every count of what happened to their lines is summed, so that the merged counts
    add up to the lines read (the pieces of split container lines, parser.envelope, were left out)."""
    from dataclasses import fields

    from logbert.records import ReadReport

    set_later = {"n_unknown_template", "n_in_flight"}  # by the model that reads the merged corpus, not the reader
    line_counts = [f.name for f in fields(ReadReport) if f.name.startswith("n_") and f.name not in set_later]
    parts = [Corpus("raw", ReadReport(**dict.fromkeys(line_counts, k))) for k in (1, 2)]
    merged, _ = merge_corpora(parts)
    assert {name: getattr(merged.report, name) for name in line_counts} == dict.fromkeys(line_counts, 3)
