"""logbert: self-supervised log anomaly detection with LogBERT."""

__version__ = "0.1.0"
