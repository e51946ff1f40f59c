"""An access log end to end as a new user runs it: ``--preset access``, train, score (a tiny model, seconds)."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from logbert import api


def _shop_log(path: Path) -> list[str]:
    """80 visitors browse, 3 scanners probe for files that do not exist; returns the scanners' addresses."""
    rng = random.Random(0)
    lines: list[tuple[int, str]] = []
    scanners = [f"198.51.100.{i}" for i in range(1, 4)]
    clients = [f"10.0.{i // 200}.{i % 200 + 1}" for i in range(80)] + scanners
    for n, ip in enumerate(clients):
        t = 60 * n
        if ip in scanners:
            requests = [("GET", p, 404) for p in ("/.env", "/wp-login.php", "/.git/config", "/admin")]
        else:
            item = rng.randint(1, 999)
            requests = [("GET", "/", 200), ("GET", "/static/app.3f2a9c.js", 200), ("GET", f"/items/{item}", 200)]
            requests += [("GET", f"/api/items/{item}/reviews?page={rng.randint(1, 5)}", 200), ("POST", "/cart", 201)]
        for method, target, status in requests:
            t += rng.randint(1, 20)
            stamp = f"20/Nov/2026:{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d} +0000"
            lines.append((t, f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 512 "-" "Mozilla/5.0"'))
    path.write_text("".join(line + "\n" for _, line in sorted(lines)))
    return scanners


def test_preset_access_trains_on_clients_and_flags_the_scanners(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    scanners = _shop_log(tmp_path / "access.log")
    overrides = {"model.n_layers": 1, "model.d_model": 16, "model.d_ff": 32, "train.epochs": 3,
                 "train.min_steps": 30, "scoring.calibration": "split", "train.test_fraction": 0.0}
    config = api.load_config(None, overrides, preset="access")
    normal_only = tmp_path / "train.log"  # the training log: the visitors only
    normal_only.write_text("".join(ln for ln in (tmp_path / "access.log").open() if not ln.startswith("198.51.")))
    result = api.train(normal_only, tmp_path / "art", config, progress=False)
    assert result.n_templates == 5  # one per route and status: "GET /items/<*> 200", ...
    detector = api.load_detector(tmp_path / "art")
    flagged = {s.session_id for s in api.score(detector, tmp_path / "access.log") if s.is_anomaly}
    assert set(scanners) <= flagged  # every scanner, by its unseen templates
    assert len(flagged - set(scanners)) <= 2  # and at most a couple of the 80 visitors
