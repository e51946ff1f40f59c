"""Loaders for the public log sets (one small module per format) and the OpenStack simulator.

All loaders return the shared schema: labels as ``session_id -> 0 | 1``, key sequences as
:class:`logbert.records.KeySequence` with a :class:`logbert.records.ReadReport`.
"""

from logbert.datasets.bgl import label_by_lines, read_line_labels
from logbert.datasets.hdfs import load_anomalous_block_ids, load_hdfs_block_labels
from logbert.datasets.keyfile import detect_input_kind, read_key_sequences
from logbert.datasets.labels import LabelFormat, Labels, load_labels, read_labels
from logbert.datasets.openstack import (
    DeepLogConvention,
    instance_ids_in_log,
    load_kalaki_labels,
    load_loghub_openstack_labels,
)
from logbert.datasets.simulator import (
    FAULT_TYPES,
    FaultType,
    SimulatedFiles,
    SimulatedLog,
    save_simulated,
    simulate_openstack,
    write_simulated,
)

__all__ = [
    "FAULT_TYPES",
    "DeepLogConvention",
    "FaultType",
    "LabelFormat",
    "Labels",
    "SimulatedFiles",
    "SimulatedLog",
    "detect_input_kind",
    "instance_ids_in_log",
    "label_by_lines",
    "load_anomalous_block_ids",
    "load_hdfs_block_labels",
    "load_kalaki_labels",
    "load_labels",
    "load_loghub_openstack_labels",
    "read_key_sequences",
    "read_labels",
    "read_line_labels",
    "save_simulated",
    "simulate_openstack",
    "write_simulated",
]
