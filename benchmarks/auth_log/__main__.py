"""A new user's SSH auth log in one-minute time windows: a brute force of known lines, new templates, busier hours.

    PYTHONPATH=. .venv/bin/python -m benchmarks.auth_log [--out FILE] [--work DIR] [--set KEY=VALUE ...]

No auth log is in ``../shared/datasets``: this writes one (OpenSSH, pam_unix, systemd-logind, sudo and cron lines in
the syslog layout; logins follow the hour of the day, failed logins from the internet at a low rate). The training
log is 6 morning hours (and a short one of 50 minutes); three test logs of 3 hours each, later in the day and so
busier than any training minute: (a) with a brute force, 3 minutes of 150-300 failed-login lines whose templates all
occur in training; (b) with 4 short faults of templates never seen (max authentication attempts, the OOM killer, an
expired account); (c) normal only. A time window is labelled anomalous when it holds an injected line.

Each training log is trained with ``window.mode=time`` (``parser.format=syslog``, what ``train`` advises) twice:
with the volume surprise (``scoring.volume_weight`` 1, the default) and without it (0); each artifact is evaluated at
its stored threshold on the three test logs with ``new_event`` and ``count_nearest`` in the same run
(``evaluate --training``). The question: does the volume surprise find a storm of known lines, and what does it
cost where load only drifts?
"""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

from benchmarks._report import generated_logs_cli, header, one_thread_in

SETTINGS = {"window.mode": "time", "parser.format": "syslog", "train.epochs": 3, "train.num_threads": 1}
USERS = ["alice", "carol", "dave", "erin", "deploy", "backup"]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class AuthLog:
    """One generated auth log: (time, line, injected) triples, sorted when written."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.pid = 1000
        self.session = 100
        self.lines: list[tuple[dt.datetime, str, bool]] = []
        self.injecting = False

    def _pid(self) -> int:
        self.pid += self.rng.randint(1, 40)
        return self.pid

    def _ip(self, internal: bool = True) -> str:
        r = self.rng
        if internal:
            return f"10.0.{r.randint(0, 3)}.{r.randint(2, 250)}"
        return f"{r.choice([45, 61, 103, 185, 193, 222])}.{r.randint(1, 254)}.{r.randint(1, 254)}.{r.randint(1, 254)}"

    def _emit(self, t: dt.datetime, program: str, message: str) -> None:
        stamp = f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"
        self.lines.append((t, f"{stamp} web01 {program}: {message}", self.injecting))

    def login(self, t: dt.datetime) -> None:
        r = self.rng
        user, ip, port, pid = r.choice(USERS), self._ip(), r.randint(32768, 65000), self._pid()
        uid = 1000 + USERS.index(user)
        method = r.choice(["publickey", "publickey", "publickey", "password"])
        key = f": RSA SHA256:{''.join(r.choice('abcdefghijkLMNOP0123456789+/') for _ in range(43))}"
        self._emit(t, f"sshd[{pid}]", f"Accepted {method} for {user} from {ip} port {port} ssh2"
                   + (key if method == "publickey" else ""))
        self._emit(t, f"sshd[{pid}]", f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)")
        self.session += 1
        self._emit(t + dt.timedelta(seconds=r.choice([0, 1])), "systemd-logind[812]",
                   f"New session {self.session} of user {user}.")
        if r.random() < 0.3:
            t2, sudo = t + dt.timedelta(seconds=r.randint(5, 300)), f"sudo[{self._pid()}]"
            command = r.choice(["/usr/bin/systemctl restart nginx", "/usr/bin/apt update",
                                "/usr/bin/journalctl -u nginx", "/bin/cat /var/log/syslog"])
            self._emit(t2, sudo, f"{user:>8} : TTY=pts/{r.randint(0, 5)} ; PWD=/home/{user} ; USER=root ; "
                       f"COMMAND={command}")
            self._emit(t2, sudo, f"pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={uid})")
            self._emit(t2 + dt.timedelta(seconds=r.randint(0, 20)), sudo,
                       "pam_unix(sudo:session): session closed for user root")
        t3 = t + dt.timedelta(seconds=r.randint(30, 1800))
        self._emit(t3, f"sshd[{pid}]", f"Received disconnect from {ip} port {port}:11: disconnected by user")
        self._emit(t3, f"sshd[{pid}]", f"Disconnected from user {user} {ip} port {port}")
        self._emit(t3, f"sshd[{pid}]", f"pam_unix(sshd:session): session closed for user {user}")
        self._emit(t3, "systemd-logind[812]", f"Session {self.session} logged out. Waiting for processes to exit.")
        self._emit(t3, "systemd-logind[812]", f"Removed session {self.session}.")

    def cron(self, t: dt.datetime) -> None:
        r, pid = self.rng, self._pid()
        command = r.choice(["command -v debian-sa1 > /dev/null && debian-sa1 1 1",
                            "/usr/local/bin/backup.sh --incremental", "cd / && run-parts --report /etc/cron.hourly"])
        self._emit(t, f"CRON[{pid}]", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
        self._emit(t, f"CRON[{pid}]", f"(root) CMD ({command})")
        self._emit(t + dt.timedelta(seconds=r.randint(0, 3)), f"CRON[{pid}]",
                   "pam_unix(cron:session): session closed for user root")

    def failed_login(self, t: dt.datetime, ip: str | None = None) -> None:
        r, pid = self.rng, self._pid()
        ip, port, later = ip or self._ip(False), r.randint(32768, 65000), t + dt.timedelta(seconds=r.randint(0, 2))
        if r.random() < 0.5:
            user = r.choice(["bob", "root", "alice"])
            self._emit(t, f"sshd[{pid}]", f"Failed password for {user} from {ip} port {port} ssh2")
            closed = f"Connection closed by authenticating user {user} {ip} port {port} [preauth]"
            self._emit(later, f"sshd[{pid}]", closed)
        else:
            user = r.choice(["admin", "test", "oracle", "ubuntu", "pi"])
            self._emit(t, f"sshd[{pid}]", f"Invalid user {user} from {ip} port {port}")
            self._emit(later, f"sshd[{pid}]", f"Connection closed by invalid user {user} {ip} port {port} [preauth]")

    def normal(self, start: dt.datetime, minutes: int) -> None:
        r = self.rng
        for m in range(minutes):
            t0 = start + dt.timedelta(minutes=m)
            rate = 1.1 + 0.8 * math.sin((t0.hour + t0.minute / 60 - 9) / 24 * 2 * math.pi)  # logins a minute
            for _ in range(_poisson(r, max(rate, 0.3))):
                self.login(t0 + dt.timedelta(seconds=r.randint(0, 59)))
            if m % 5 == 0 or r.random() < 0.15:
                self.cron(t0 + dt.timedelta(seconds=1))
            if r.random() < 0.12:
                self.failed_login(t0 + dt.timedelta(seconds=r.randint(0, 59)))

    def brute_force(self, start: dt.datetime, minutes: int) -> None:
        self.injecting, ip = True, self._ip(False)
        for m in range(minutes):
            for _ in range(self.rng.randint(75, 150)):
                self.failed_login(start + dt.timedelta(minutes=m, seconds=self.rng.uniform(0, 59.9)), ip=ip)
        self.injecting = False

    def new_templates(self, t: dt.datetime, kind: str) -> None:
        r, pid = self.rng, self._pid()
        self.injecting = True
        if kind == "max_auth":
            ip, port = self._ip(False), r.randint(32768, 65000)
            for _ in range(3):
                self._emit(t, f"sshd[{pid}]", f"Failed password for root from {ip} port {port} ssh2")
            self._emit(t, f"sshd[{pid}]", f"error: maximum authentication attempts exceeded for root from {ip} port "
                       f"{port} ssh2 [preauth]")
            self._emit(t, f"sshd[{pid}]", f"Disconnecting authenticating user root {ip} port {port}: Too many "
                       "authentication failures [preauth]")
        elif kind == "oom":
            up = f"[{r.randint(10000, 99999)}.{r.randint(0, 999999):06d}]"
            self._emit(t, "kernel", f"{up} sshd invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, "
                       "oom_score_adj=0")
            self._emit(t, "kernel", f"{up} Out of memory: Killed process {r.randint(2000, 9000)} (java) total-vm:"
                       f"{r.randint(10**6, 9 * 10**6)}kB, anon-rss:{r.randint(10**6, 4 * 10**6)}kB, file-rss:0kB")
        else:
            self._emit(t, f"sshd[{pid}]", "fatal: Access denied for user carol by PAM account configuration [preauth]")
            self._emit(t, f"sshd[{pid}]", "pam_unix(sshd:account): account carol has expired (account expired)")
        self.injecting = False

    def write(self, path: Path) -> set[int]:
        """Write the log; returns the line numbers (from 1) of the injected lines."""
        self.lines.sort(key=lambda x: x[0])
        path.write_text("".join(line + "\n" for _, line, _ in self.lines), encoding="utf-8")
        return {i + 1 for i, (_, _, injected) in enumerate(self.lines) if injected}


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def write_logs(work: Path) -> dict[str, set[int]]:
    """The training and test logs in ``work``; per test log, its injected line numbers."""
    day = lambda d, h, m=0: dt.datetime(2026, 12, d, h, m)  # noqa: E731
    train = AuthLog(1)
    train.normal(day(2, 4), 360)
    train.write(work / "train.log")
    small = AuthLog(2)
    small.normal(day(2, 9), 50)
    small.write(work / "train_small.log")
    storm = AuthLog(3)
    storm.normal(day(3, 6), 180)
    storm.brute_force(day(3, 7, 30), 3)
    new = AuthLog(4)
    new.normal(day(3, 12), 180)
    for when, kind in [(day(3, 12, 40), "max_auth"), (day(3, 13, 25), "oom"), (day(3, 14, 10), "expired"),
                       (day(3, 14, 50), "max_auth")]:
        new.new_templates(when + dt.timedelta(seconds=17), kind)
    normal = AuthLog(5)
    normal.normal(day(3, 18), 180)
    return {"storm": storm.write(work / "storm.log"), "new_templates": new.write(work / "new_templates.log"),
            "normal": normal.write(work / "normal.log")}


def main(argv: list[str] | None = None) -> int:
    args = generated_logs_cli(__doc__ or "", "auth-log").parse_args(argv)
    from logbert import api
    from logbert.cli._common import parse_overrides

    work = one_thread_in(args.work)
    injected = write_logs(work)
    rows: list[str] = []
    explained: list[str] = []
    for training in ("train", "train_small"):
        for weight in (1.0, 0.0):
            config = api.load_config(None, {**SETTINGS, "scoring.volume_weight": weight, **parse_overrides(args.set)})
            art = work / f"art_{training}_{weight:g}"
            trained = api.train(work / f"{training}.log", art, config, overwrite=True, progress=False)
            detector = api.load_detector(art)
            cells: list[str] = []
            for test, lines in injected.items():
                path = work / f"{test}.log"
                windows = api.score(detector, path, explain=True)
                if lines:
                    labels = work / f"labels_{test}.txt"
                    labels.write_text("".join(f"{w.session_id}\n" for w in windows
                                              if any(w.first_line_no <= n <= w.last_line_no for n in lines)))
                    result = api.evaluate(detector, path, labels=labels, training=work / f"{training}.log",
                                          baselines=("new_event", "count_nearest"))
                else:
                    result = api.evaluate(detector, normal=path, training=work / f"{training}.log",
                                          baselines=("new_event", "count_nearest"))
                cells.append(_cell(result.report, bool(lines)))
                base = {name: _cell(rep, bool(lines)) for name, rep in result.baselines.items() if "skipped" not in rep}
                cells[-1] += f" <br>nearest {base.get('count_nearest', '-')} <br>new {base.get('new_event', '-')}"
                if test == "storm" and weight == 1.0:
                    explained += [f"- {training}: {w.session_id} {w.score:.2f}: {w.surprises[0]}"
                                  for w in windows if w.is_anomaly and w.surprises]
            rows.append(f"| {training} ({trained.n_calibration} windows) | {weight:g} | {trained.threshold:.2f} | "
                        + " | ".join(cells) + " |")
    lines = header("An SSH auth log in one-minute time windows (a new user's log)", "benchmarks.auth_log", argv,
                   "1 torch thread")
    lines += [
        "", "Each cell: LogBERT precision / recall / F1, FPR at the stored threshold; below it count_nearest and "
        "new_event, fitted on the same training log (`evaluate --training`). The normal log: FPR only.", "",
        "| training | volume_weight | threshold | storm (brute force of known lines) | new templates | normal |",
        "|---|---:|---:|---|---|---|", *rows, "",
        "The storm's windows flagged with the volume surprise, as `score --explain` names them:", "", *explained, "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    return 0


def _cell(report: dict[str, Any], labelled: bool) -> str:
    if not labelled:
        return f"FPR {report['fpr']:.4f}"
    return f"{report['precision']:.2f} / {report['recall']:.2f} / **{report['f1']:.3f}**, {report['fpr']:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
