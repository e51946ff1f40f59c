"""OpenStack label files: kalaki DevStack CSVs and the loghub / DeepLog ``anomaly_labels.txt``.

Session ids are bare instance uuids, as ``SESSION_PRESETS["openstack_instance"]`` extracts them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from logbert.datasets._text import read_lines
from logbert.datasets.labels import Labels, parse_id_list, parse_session_csv
from logbert.errors import InputDataError
from logbert.windowing.windows import SESSION_PRESETS

#: loghub OpenStack has two labelling conventions:
#: "listed" = only the instances in anomaly_labels.txt are anomalous (the official one, 4 instances);
#: "abnormal_file" = every instance of openstack_abnormal.log is anomalous (198 instances).
DeepLogConvention = Literal["listed", "abnormal_file"]

_INSTANCE = re.compile(SESSION_PRESETS["openstack_instance"])


def load_kalaki_labels(path: str | Path) -> Labels:
    """A kalaki ``*.instance_labels.csv`` (``instance_id,Label,...``) or ``instance_labels_composite.csv``
    (``BlockId,Label`` with ids ``instance: <uuid>``). ``unlabeled`` rows are counted, not labelled.

    Raises:
        InputDataError: missing/empty file, no ``Label`` header, or an unknown label value.
    """
    lines, _ = read_lines(path, what="OpenStack label CSV")
    return parse_session_csv(lines, str(path))


def instance_ids_in_log(path: str | Path) -> list[str]:
    """Every instance uuid tagged ``[instance: <uuid>]`` in a nova log, in order of first appearance."""
    lines, _ = read_lines(path, what="nova log")
    seen: dict[str, None] = {}
    for line in lines:
        for match in _INSTANCE.finditer(line):
            seen.setdefault(match.group(1), None)
    return list(seen)


def load_loghub_openstack_labels(
    anomaly_labels: str | Path,
    *,
    convention: DeepLogConvention = "listed",
    abnormal_log: str | Path | None = None,
    normal_logs: Sequence[str | Path] = (),
) -> dict[str, int]:
    """Labels of the loghub / DeepLog OpenStack set under either convention.

    Args:
        anomaly_labels: ``anomaly_labels.txt`` (free-text header, then one uuid per line).
        convention: ``"listed"`` (official): the listed instances are 1, every other instance of
            ``abnormal_log`` / ``normal_logs`` is 0. ``"abnormal_file"``: every instance of
            ``abnormal_log`` is 1, every instance of ``normal_logs`` is 0.
        abnormal_log: ``openstack_abnormal*.log``; required for ``"abnormal_file"``.
        normal_logs: ``openstack_normal*.log`` files whose instances are labelled 0.

    Returns:
        ``instance uuid -> 0 | 1``; with no logs given and ``"listed"``, only the listed ids (all 1).

    Raises:
        InputDataError: a file is missing/empty/unrecognised, or ``abnormal_file`` without ``abnormal_log``.
    """
    lines, _ = read_lines(anomaly_labels, what="OpenStack anomaly_labels.txt")
    listed = parse_id_list(lines, str(anomaly_labels)).by_id
    labels: dict[str, int] = {}
    for log in normal_logs:
        labels.update(dict.fromkeys(instance_ids_in_log(log), 0))
    if convention == "abnormal_file":
        if abnormal_log is None:
            raise InputDataError("convention='abnormal_file' needs abnormal_log (openstack_abnormal.log)")
        labels.update(dict.fromkeys(instance_ids_in_log(abnormal_log), 1))
    elif abnormal_log is not None:
        labels.update({i: labels.get(i, 0) for i in instance_ids_in_log(abnormal_log)})
    labels.update(listed)
    return labels
