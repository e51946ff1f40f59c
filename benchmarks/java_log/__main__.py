"""A Java service's log in Spring Boot's default layout, as a new user brings one: the request id as the session.

    .venv/bin/python -m benchmarks.java_log [--work DIR] [--out benchmarks/results/java_log.md]

No such log is in ``../shared/datasets``, so this one is generated (:func:`spring_boot_log`): an order service's
lines as logback writes them (``2026-11-30 08:00:00.381  INFO 4242 --- [nio-8080-exec-3]
c.e.shop.web.OrderController : [req=8ea70c5d68184b26] POST /api/orders customer=396``), requests of ten worker
threads interleaved, a scheduled job's lines without a request id, and exceptions with their stack traces. The
settings are the ones ``logbert parse`` suggests for it (the header up to the thread; ``parser.continuation=attach``
for the stack traces) and the request id as the session (``window.session_pattern``). Normal requests reserve
stock, charge, confirm and answer 201; some also mail an invoice (10 %), find the stock in the cache (15 %) or
retry a transaction once after a deadlock (3 %). About 8 % are anomalous, in three kinds, two of them made of
normal lines: a payment that fails (an ERROR line and its stack trace, then 502), a transaction retried again and
again (3 to 5 deadlock warnings), and an order never confirmed (the 201 comes without the confirmation). Two logs
with other seeds: 3,000 requests to train on, 1,500 fresh ones, with labels, to evaluate on.

One run: ``logbert train`` on the training log with its labels (its anomalous requests held back), ``logbert
evaluate`` on the fresh log at the stored threshold, and the baselines ``new_event`` and ``count_nearest`` on the
training log's held-back requests.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from benchmarks._report import draw_sessions, generated_log_benchmark, write_labelled

#: the header ``logbert parse`` suggests for this layout (the logger stays in the content: it routes Drain's tree)
LOG_FORMAT = r"<Datetime> <Level> <Pid> --- \[<Context>\] <Content>"
#: the session id: the request id in the message
REQUEST_ID = r"\[req=(\w+)\]"
#: kind -> share of the requests (the rest are normal)
ANOMALOUS = {"payment_failed": 0.03, "deadlock_retries": 0.025, "unconfirmed": 0.025}


def _request(rng: random.Random, start: dt.datetime, kind: str) -> tuple[str, list[tuple[dt.datetime, str]]]:
    req, thread = f"{rng.getrandbits(64):016x}", f"nio-8080-exec-{rng.randint(1, 10)}"
    order, customer = rng.randint(1000, 99_999), rng.randint(1, 5000)
    lines: list[tuple[dt.datetime, str]] = []
    t = start

    def log(level: str, logger: str, message: str, trace: tuple[str, ...] = ()) -> None:
        nonlocal t
        t += dt.timedelta(milliseconds=rng.uniform(1, 120))
        stamp = f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d}"
        text = f"{stamp} {level:>5} 4242 --- [{thread:>15}] {logger:<40} : [req={req}] {message}"
        lines.append((t, "\n".join((text, *trace))))  # a stack trace follows its line, whatever the other threads

    log("INFO", "c.e.shop.web.OrderController", f"POST /api/orders customer={customer}")
    if rng.random() < 0.15:
        log("DEBUG", "c.e.shop.service.InventoryService", f"stock of order {order} found in cache")
    log("DEBUG", "c.e.shop.service.InventoryService", f"reserved {rng.randint(1, 5)} items for order {order}")
    retries = rng.randint(3, 5) if kind == "deadlock_retries" else int(rng.random() < 0.03)
    for attempt in range(1, retries + 1):
        log("WARN", "c.e.shop.repo.OrderRepository", f"deadlock detected, retrying transaction (attempt {attempt})")
    if kind == "payment_failed":
        log("ERROR", "c.e.shop.service.PaymentService", f"payment for order {order} failed", (
            "java.lang.IllegalStateException: card declined by gateway",
            "\tat com.example.shop.service.PaymentService.charge(PaymentService.java:88)",
            "\tat com.example.shop.web.OrderController.create(OrderController.java:41)",
        ))
        log("INFO", "c.e.shop.web.OrderController", f"502 in {rng.randint(20, 400)}ms")
        return req, lines
    log("INFO", "c.e.shop.service.PaymentService", f"charged {rng.randint(5, 500)}.{rng.randint(0, 99):02d} EUR "
                                                   f"for order {order}")
    if kind != "unconfirmed":
        log("INFO", "c.e.shop.service.OrderService", f"order {order} confirmed")
    if rng.random() < 0.1:
        log("INFO", "c.e.shop.service.MailService", f"sent invoice to customer{customer}@example.com")
    log("INFO", "c.e.shop.web.OrderController", f"201 in {rng.randint(20, 400)}ms")
    return req, lines


def spring_boot_log(path: Path, seed: int, n_requests: int) -> tuple[Path, dict[str, str]]:
    """Write the log and ``<path>.labels.csv`` (``session_id,Label``); returns the labels' path and each request's
    kind by request id (``normal`` or one of :data:`ANOMALOUS`)."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 30, 8)
    lines, kinds = draw_sessions(
        rng, n_requests, ANOMALOUS,
        lambda kind: _request(rng, start + dt.timedelta(seconds=rng.uniform(0, 3_600)), kind),
    )
    for minute in range(0, 60, 5):  # a scheduled job: no request id, counted as such
        t = start + dt.timedelta(minutes=minute, milliseconds=rng.randint(0, 999))
        lines.append((t, f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d}  INFO 4242 --- [   scheduling-1] "
                         f"{'c.e.shop.jobs.CleanupJob':<40} : removed {rng.randint(0, 40)} expired carts"))
    labels = write_labelled(path, lines, kinds)
    return labels, kinds


def _templates(artifact: Path) -> list[str]:
    from logbert.parsing.parser import LogParser

    state = json.loads((artifact / "parser.json").read_text(encoding="utf-8"))
    return ["The templates:", "", *(f"- `{t}`" for t in LogParser.from_dict(state).templates_), ""]


def main(argv: list[str] | None = None) -> int:
    return generated_log_benchmark(
        __doc__, "java-log", "A Java service's log (Spring Boot's layout, the request id as the session)", argv,
        lambda path, seed, n: spring_boot_log(path, seed=seed, n_requests=n),
        {"parser.log_format": LOG_FORMAT, "parser.continuation": "attach", "window.session_pattern": REQUEST_ID},
        tuple(ANOMALOUS), _templates,
    )


if __name__ == "__main__":
    raise SystemExit(main())
