from pathlib import Path

import pytest

from logbert.datasets.bgl import label_by_lines, read_line_labels
from logbert.datasets.hdfs import load_anomalous_block_ids, load_hdfs_block_labels
from logbert.datasets.labels import load_labels, read_labels
from logbert.datasets.openstack import load_kalaki_labels, load_loghub_openstack_labels
from logbert.errors import InputDataError
from logbert.records import KeySequence
from tests.conftest import dataset_path

KALAKI = "openstack/kalaki_devstack/"
DEEPLOG = "openstack/deeplog_openstack/"


def test_kalaki_sample_and_composite() -> None:
    sample = load_kalaki_labels(dataset_path(KALAKI + "openstack-nova-sample.instance_labels.csv"))
    assert (len(sample.by_id), sample.n_anomalous) == (1162, 180)
    assert sample.by_id["11760334-ac63-4cc8-9086-578422af8c99"] == 0 and sample.absent_label is None
    composite = load_labels(dataset_path(KALAKI + "instance_labels_composite.csv"))
    assert (len(composite), sum(composite.values())) == (1313, 331)
    assert all(not k.startswith("instance") for k in composite)
    destroy = read_labels(dataset_path(KALAKI + "openstack-vm-destroy-immediately-after-create.instance_labels.csv"))
    assert (destroy.n_anomalous, destroy.n_unlabelled) == (78, 119)


def test_loghub_openstack_both_conventions() -> None:
    labels_txt = dataset_path(DEEPLOG + "anomaly_labels.txt")
    abnormal = dataset_path(DEEPLOG + "openstack_abnormal.instance_lines.log")
    normal = dataset_path(DEEPLOG + "openstack_normal1.instance_lines.log")
    assert load_labels(labels_txt) == dict.fromkeys(load_labels(labels_txt), 1) and len(load_labels(labels_txt)) == 4
    listed = load_loghub_openstack_labels(labels_txt, abnormal_log=abnormal, normal_logs=[normal])
    whole = load_loghub_openstack_labels(
        labels_txt, convention="abnormal_file", abnormal_log=abnormal, normal_logs=[normal]
    )
    assert (len(listed), sum(listed.values())) == (755, 4)
    assert (len(whole), sum(whole.values())) == (755, 198)
    assert {k for k, v in listed.items() if v} <= {k for k, v in whole.items() if v}
    with pytest.raises(InputDataError):
        load_loghub_openstack_labels(labels_txt, convention="abnormal_file")


def test_hdfs_labels() -> None:
    csv_labels = load_hdfs_block_labels(dataset_path("hdfs/loglead_2pct/anomaly_label_2pct.csv"))
    assert (len(csv_labels.by_id), csv_labels.n_anomalous) == (11501, 350)
    ids = load_anomalous_block_ids(dataset_path("hdfs/anomaly_blocks/anomalous_block_ids.txt"))
    assert len(ids.by_id) == 16838 and ids.absent_label == 0 and ids.get("blk_1") == 0
    assert ids.get("blk_-3544583377289625738") == 1


def test_bgl_and_thunderbird_line_labels() -> None:
    bgl = read_line_labels(dataset_path("bgl/loghub_2k/BGL_2k.log"))
    assert (len(bgl), sum(bgl.values())) == (2000, 143)
    tb = load_labels(dataset_path("thunderbird/loghub_2k/Thunderbird_2k.log"))
    assert (len(tb), sum(tb.values())) == (2000, 0)
    windows = [KeySequence("w", [1, 2], line_nos=[1, 2]), KeySequence("w", [3], line_nos=[99999])]
    assert label_by_lines(windows, {1: 0, 2: 1}) == 1 and windows[0].label == 1 and windows[1].label is None


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
    ],
)
def test_sniffed_small_files(tmp_path: Path, text: str, expected: dict[str, int]) -> None:
    p = tmp_path / "labels.txt"
    p.write_text(text)
    assert load_labels(p) == expected


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"hello world\nthis is not a label file\n", "not a label file"),
        (b"\xff\xfe\x00garbage\x00\n", "not UTF-8"),
        (b"BlockId,Label\nblk_1,maybe\n", "unknown label value"),
        (b"BlockId,Label\nblk_1\n", "cells"),
        (b"header\nblk_1\nnot an id line\n", "one session id per line"),
    ],
)
def test_garbage_is_a_clear_error(tmp_path: Path, content: bytes, match: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(InputDataError, match=match):
        load_labels(p)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="not found"):
        load_labels(tmp_path / "nope.csv")
    with pytest.raises(InputDataError, match="directory"):
        load_labels(tmp_path)
