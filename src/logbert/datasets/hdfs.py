"""HDFS block labels: ``BlockId,Label`` CSVs (Normal/Anomaly) and ``anomalous_block_ids.txt``."""

from __future__ import annotations

from pathlib import Path

from logbert.datasets._text import read_lines
from logbert.datasets.labels import Labels, parse_id_list, parse_session_csv


def load_hdfs_block_labels(path: str | Path) -> Labels:
    """``anomaly_label.csv`` / ``*.block_labels.csv``: ``BlockId,Label[,...]``, Label Normal/Anomaly.

    Raises:
        InputDataError: missing/empty file, no ``Label`` header, or an unknown label value.
    """
    lines, _ = read_lines(path, what="HDFS block label CSV")
    return parse_session_csv(lines, str(path))


def load_anomalous_block_ids(path: str | Path) -> Labels:
    """``anomalous_block_ids.txt``: one anomalous ``blk_`` id per line; every other block is normal
    (``Labels.absent_label == 0``).

    Raises:
        InputDataError: missing/empty file, or a line that is not a block id.
    """
    lines, _ = read_lines(path, what="HDFS anomalous block id list")
    return parse_id_list(lines, str(path))
