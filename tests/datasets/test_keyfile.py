from pathlib import Path

import pytest

from logbert.datasets.keyfile import detect_input_kind, read_key_sequences
from logbert.errors import InputDataError
from tests.conftest import dataset_path


def test_deeplog_hdfs_train() -> None:
    seqs, report = read_key_sequences(dataset_path("hdfs/deeplog_keys/hdfs_train"))
    assert len(seqs) == 4855 and report.n_parsed == 4855 and report.n_malformed == 0
    assert seqs[0].session_id == "hdfs_train:1" and seqs[0].key_ids[:4] == [5, 5, 5, 22]
    abnormal, _ = read_key_sequences(dataset_path("hdfs/deeplog_keys/hdfs_test_abnormal"), label=1)
    assert len(abnormal) == 16838 and all(s.label == 1 for s in abnormal)


def test_ids_blank_and_malformed_lines_are_counted(tmp_path: Path) -> None:
    p = tmp_path / "keys.txt"
    p.write_bytes(b"blk_1,1 2 3\n4 5\n\n7 x 9\nblk_2,\n,1 2\n-5 3\nblk_3, 8 -1 8 \n\xff\xfe 1\n")
    seqs, report = read_key_sequences(p)
    assert [(s.session_id, s.key_ids) for s in seqs] == [
        ("blk_1", [1, 2, 3]),
        ("keys.txt:2", [4, 5]),
        ("blk_3", [8, -1, 8]),
    ]
    assert (report.n_lines, report.n_parsed, report.n_empty, report.n_malformed, report.n_binary) == (9, 3, 1, 5, 1)
    assert report.malformed_examples[0].startswith("4: 7 x 9")


def test_empty_or_useless_file_raises(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n \n")
    with pytest.raises(InputDataError, match="empty"):
        read_key_sequences(empty)
    junk = tmp_path / "junk"
    junk.write_text("a b c\n")
    with pytest.raises(InputDataError, match="no valid"):
        read_key_sequences(junk)
    with pytest.raises(InputDataError, match="not found"):
        read_key_sequences(tmp_path / "missing")


def test_detect_input_kind(tmp_path: Path) -> None:
    assert detect_input_kind(dataset_path("hdfs/deeplog_keys/hdfs_train")) == "keys"
    assert detect_input_kind(dataset_path("openstack/loghub_2k/OpenStack_2k.log")) == "raw"
    assert detect_input_kind(dataset_path("bgl/loghub_2k/BGL_2k.log")) == "raw"
    p = tmp_path / "k"
    p.write_text("BlockId,EventSequence\n" + "".join(f"blk_{i},1 2 3\n" for i in range(20)))
    assert detect_input_kind(p) == "keys"  # a header line is tolerated
    p.write_text("081109 203615 148 INFO dfs.DataNode: PacketResponder 1 terminating\n")
    assert detect_input_kind(p) == "raw"
