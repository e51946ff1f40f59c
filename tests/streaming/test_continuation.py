"""Multi-line messages in streaming (``parser.continuation = "attach"``): a stack trace cut by a request, a
restart or a queue's partitions goes to the session of the line it continues, as offline."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from logbert.queue.partitions import Partitioner

from .replay import offline_summaries, replayed, restarted, summaries, trained_on

SPRING = r"<Datetime> <Level> <Pid> --- \[<Context>\] <Content>"


def _log(n: int, seed: int = 0) -> list[str]:
    """Requests req=r<i>, two at a time interleaved; every fifth fails with a trace of 4 lines, a blank one inside."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(0, n, 2):
        for j in (i, i + 1):
            out.append(f"2026-11-21 09:00:{j % 60:02d}.{j % 1000:03d}  INFO 1 --- [exec-1] Orders : [req=r{j}] POST")
        for j in (i, i + 1):
            if j % 5 == 3:
                out += [
                    f"2026-11-21 09:01:{j % 60:02d}.000 ERROR 1 --- [exec-2] Orders : [req=r{j}] Request failed",
                    "java.lang.IllegalStateException: inventory service unavailable",
                    f"\tat com.example.inventory.Client.reserve(Client.java:{rng.choice([88, 91])})",
                    "",
                    "\t... 42 common frames omitted",
                ]
            out.append(f"2026-11-21 09:02:{j % 60:02d}.000  INFO 1 --- [exec-1] Orders : [req=r{j}] 201 Created")
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Any]]:
    settings = {
        "parser.log_format": SPRING,
        "parser.continuation": "attach",
        "window.session_pattern": r"req=(\w+)",  # a failed request's 8 keys (bounds included) fill a window
        "scoring.score": "max_mean_nll",
    }
    detector, log, offline = trained_on(tmp_path_factory.mktemp("continuation"), _log(120), settings)
    assert offline["r3"].n_keys == 6  # POST, failed, 3 trace lines, 201: the trace is in its session
    return detector, log, offline


@pytest.mark.parametrize("per_request", [1, 3, 7, 1000])
def test_requests_that_cut_a_trace_give_the_offline_sessions(trained: Any, per_request: int) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    engine = replayed(detector, lines, per_request)
    assert engine.stats().rejected_malformed == 0  # every trace line continued its request's line
    assert summaries(engine, offline) == offline_summaries(offline)
    engine.shutdown(30)


def test_a_restart_between_a_line_and_its_trace_keeps_the_trace_in_its_session(trained: Any, tmp_path: Path) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    cut = lines.index("java.lang.IllegalStateException: inventory service unavailable")  # the first trace
    # the last line before the trace is in the checkpoint only
    again = restarted(detector, lines, cut, 5, tmp_path / "j")
    assert again.stats().rejected_malformed == 0
    assert summaries(again, offline) == offline_summaries(offline)
    again.shutdown(30)


def test_a_producer_sends_a_trace_where_its_line_went() -> None:
    lines = _log(40)
    follow = Partitioner(4, re.compile(r"req=(\w+)"), follow_previous=True)
    plain = Partitioner(4, re.compile(r"req=(\w+)"))
    i = lines.index("java.lang.IllegalStateException: inventory service unavailable")
    head = follow.partitions(lines[i - 1], "app.log")[0]
    assert plain.partitions(lines[i - 1], "app.log")[0] == head
    trace = [follow.partitions(line, "app.log")[0] for line in lines[i : i + 4]]
    assert trace == [head] * 4  # the blank line too
    assert plain.partitions(lines[i], "app.log") == ((plain.partitions("x", "app.log")[0][0],), 0)
