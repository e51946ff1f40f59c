"""The README names every setting the service reads: docs that match the code."""

from __future__ import annotations

from pathlib import Path

from logbert.service.settings import Settings
from logbert.streaming import StreamLimits

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_service_setting_is_in_the_readme() -> None:
    missing = [f"LOGBERT_{name.upper()}" for name in Settings.model_fields if name != "limits"]
    missing = [var for var in missing if var not in README]
    missing += [
        f"LOGBERT_LIMITS__{name.upper()}" for name in StreamLimits.model_fields if f"`{name.upper()}`" not in README
    ]
    assert not missing, f"settings the README does not mention: {missing}"
