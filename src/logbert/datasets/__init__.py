"""Reading the inputs of the public log sets, and the OpenStack simulator.

* :func:`read_labels` reads any supported label file (format sniffed: a session CSV, a list of
  anomalous ids, or a BGL / Thunderbird log labelled per line) into :class:`Labels`:
  ``session_id -> 0 | 1`` plus what an id the file does not name is (``Labels.absent_label``).
* :func:`read_key_sequences` reads a pre-parsed key-sequence file into
  :class:`logbert.records.KeySequence` records with a :class:`logbert.records.ReadReport`;
  :func:`detect_input_kind` tells such a file from a raw log.
* :func:`simulate_openstack` and friends write a labelled synthetic OpenStack nova log.

Raw logs become labelled sessions in :func:`logbert.pipeline.corpus.read_corpus`, which applies
these labels (per-line labels through :func:`logbert.datasets.labels.session_label_from_lines`).
"""

from logbert.datasets.keyfile import detect_input_kind, read_key_sequences
from logbert.datasets.labels import LabelFormat, Labels, read_labels
from logbert.datasets.simulator import (
    FAULT_TYPES,
    TIME_VALUE_FAULT_TYPES,
    FaultType,
    SimulatedFiles,
    SimulatedLog,
    TimeValueFaultType,
    save_simulated,
    simulate_openstack,
    write_simulated,
)

__all__ = [
    "FAULT_TYPES",
    "FaultType",
    "LabelFormat",
    "Labels",
    "SimulatedFiles",
    "SimulatedLog",
    "TIME_VALUE_FAULT_TYPES",
    "TimeValueFaultType",
    "detect_input_kind",
    "read_key_sequences",
    "read_labels",
    "save_simulated",
    "simulate_openstack",
    "write_simulated",
]
