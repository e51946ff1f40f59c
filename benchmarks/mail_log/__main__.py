"""A mail server's syslog (Postfix), as a new user brings one: ``parser.format=syslog``, the queue id as the session.

    .venv/bin/python -m benchmarks.mail_log [--work DIR] [--out benchmarks/results/mail_log.md]

No mail log is in ``../shared/datasets``, so this one is generated (:func:`postfix_log`): Postfix's lines as
syslog writes them (``Nov 30 10:00:01 mail postfix/qmgr[1234]: 62D82C07CD: removed``). A mail is one session,
named by its queue id (``window.session_pattern = "\\b([0-9A-F]{10}):"``, the only setting a user gives besides
the format); the ``connect`` and ``disconnect`` lines name no queue id and are counted as such. Normal mails are
received, queued and sent to one or two recipients, then removed; some meet a transient failure first (4 % a
greylisting deferral, 3 % a connection that times out once), 2 % are bounced by a server that does not know the
recipient (a non-delivery notice to the sender, then removed). About 8 % of the mails are anomalous, in four kinds,
three of them made of normal lines: mails that cannot be delivered (every attempt times out, the mail stays
queued), mails stuck in the queue (no delivery attempt at all), a mail loop (the same mail sent again and again),
and relay attempts that the server refuses (``Relay access denied``, a line no normal mail has). Two logs with
other seeds: 3,000 mails to train on, 1,500 fresh ones, with labels, to evaluate on.

One run: ``logbert train`` on the training log with its labels (its anomalous mails held back), ``logbert
evaluate`` on the fresh log at the stored threshold, and the baselines ``new_event`` and ``count_nearest`` on the
training log's held-back mails (``evaluate`` runs baselines only on a file that holds the artifact's training
sessions).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from benchmarks._report import draw_sessions, generated_log_benchmark, write_labelled

#: the session id of a Postfix line: its queue id, ten hex digits before a colon
QUEUE_ID = r"\b([0-9A-F]{10}):"
#: kind -> share of the mails (the rest are delivered normally)
ANOMALOUS = {"undeliverable": 0.02, "stuck": 0.02, "mail_loop": 0.02, "relay_denied": 0.02}
DOMAINS = ("example.org", "corp.net", "gmail.com", "mail.foo.de", "uni-x.edu")


def _mail(rng: random.Random, start: dt.datetime, kind: str) -> tuple[str, list[tuple[dt.datetime, str]]]:
    qid, pid = f"{rng.getrandbits(40):010X}", rng.randint(1000, 30_000)
    ip = f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    client = rng.choice(("unknown", f"mx{rng.randint(1, 9)}.{rng.choice(DOMAINS)}"))
    lines: list[tuple[dt.datetime, str]] = []
    t = start

    def log(process: str, message: str) -> None:
        nonlocal t
        t += dt.timedelta(seconds=rng.uniform(0.01, 1.5))
        lines.append((t, f"{t:%b %d %H:%M:%S} mail postfix/{process}[{pid}]: {message}"))

    sender = f"<{rng.choice(('alice', 'bob', 'noreply', 'billing'))}{rng.randint(1, 999)}@{rng.choice(DOMAINS)}>"
    log("smtpd", f"connect from {client}[{ip}]")
    if kind == "relay_denied":
        target = f"<victim{rng.randint(1, 99)}@{rng.choice(DOMAINS)}>"
        log("smtpd", f"NOQUEUE: reject: RCPT from {client}[{ip}]: 554 5.7.1 {target}: Relay access denied; "
                     f"from={sender} to={target} proto=ESMTP")
        # the queue id Postfix gives later attempts of the same client: this kind's session
        log("smtpd", f"{qid}: client={client}[{ip}]")
        log("smtpd", f"{qid}: reject: RCPT from {client}[{ip}]: 554 5.7.1 Relay access denied")
        log("smtpd", f"disconnect from {client}[{ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4")
        return qid, lines
    log("smtpd", f"{qid}: client={client}[{ip}]")
    log("cleanup", f"{qid}: message-id=<{rng.getrandbits(48):012x}@{rng.choice(DOMAINS)}>")
    recipients = 1 if rng.random() < 0.8 else 2
    log("qmgr", f"{qid}: from={sender}, size={rng.randint(400, 2_000_000)}, nrcpt={recipients} (queue active)")
    log("smtpd", f"disconnect from {client}[{ip}] ehlo=1 mail=1 rcpt={recipients} data=1 quit=1 commands=5")
    if kind == "stuck":  # queued, then nothing: no delivery attempt, never removed
        return qid, lines
    for _ in range(recipients):
        to, relay = f"<user{rng.randint(1, 9999)}@{rng.choice(DOMAINS)}>", f"mx.{rng.choice(DOMAINS)}"
        head = f"{qid}: to={to}, relay={relay}[{rng.randint(1, 220)}.0.{rng.randint(0, 255)}.9]:25"
        delays = f"delays={rng.uniform(0, 1):.2f}/0/{rng.uniform(0, 1):.2f}/{rng.uniform(0, 2):.2f}"
        timeout = (f"{qid}: to={to}, relay=none, delay={rng.randint(30, 4000)}, {delays}, dsn=4.4.1, "
                   f"status=deferred (connect to {relay}[10.0.0.9]:25: Connection timed out)")
        if kind == "undeliverable":
            for _ in range(rng.randint(3, 5)):
                log("smtp", timeout)
            continue
        r = rng.random()
        if r < 0.04:  # greylisting: normal, the second attempt goes through
            log("smtp", f"{head}, delay={rng.uniform(0.2, 3):.1f}, {delays}, dsn=4.7.1, status=deferred (host "
                        f"{relay}[10.0.0.9] said: 450 4.7.1 Greylisted, try again later)")
        elif r < 0.07:  # a connection that times out once: normal too
            log("smtp", timeout)
        if rng.random() < 0.02:  # an unknown user: bounced, the sender is told
            log("smtp", f"{head}, delay={rng.uniform(0.2, 3):.1f}, {delays}, dsn=5.1.1, status=bounced (host "
                        f"{relay}[10.0.0.9] said: 550 5.1.1 User unknown)")
            log("bounce", f"{qid}: sender non-delivery notification: {rng.getrandbits(40):010X}")
            continue
        for _ in range(rng.randint(4, 7) if kind == "mail_loop" else 1):
            log("smtp", f"{head}, delay={rng.uniform(0.2, 3):.1f}, {delays}, dsn=2.0.0, status=sent (250 2.0.0 "
                        f"Ok: queued as {rng.getrandbits(40):010X})")
    if kind != "undeliverable":
        log("qmgr", f"{qid}: removed")
    return qid, lines


def postfix_log(path: Path, seed: int, n_mails: int) -> tuple[Path, dict[str, str]]:
    """Write the log and ``<path>.labels.csv`` (``session_id,Label``); returns the labels' path and each mail's
    kind by queue id (``normal`` or one of :data:`ANOMALOUS`)."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 30)
    lines, kinds = draw_sessions(
        rng, n_mails, ANOMALOUS, lambda kind: _mail(rng, start + dt.timedelta(seconds=rng.uniform(0, 86_000)), kind)
    )
    labels = write_labelled(path, lines, kinds)
    return labels, kinds


def main(argv: list[str] | None = None) -> int:
    return generated_log_benchmark(
        __doc__, "mail-log", "A Postfix mail log (`parser.format=syslog`, the queue id as the session)", argv,
        lambda path, seed, n: postfix_log(path, seed=seed, n_mails=n),
        {"parser.format": "syslog", "window.session_pattern": QUEUE_ID}, tuple(ANOMALOUS),
    )


if __name__ == "__main__":
    raise SystemExit(main())
