"""Windows of an interleaved stream: the miss ratio against the largest key surprise (``scoring.score_for_windows``).

    .venv/bin/python -m benchmarks.interleaved --out benchmarks/results/interleaved.md

No log of ``../shared/datasets`` is a host's syslog without session ids, so this one is generated: a web host's
RFC 3164 syslog (cron jobs, ssh logins and failed logins, systemd, the kernel's firewall, dhclient, ntp, nginx),
its programs writing at once, one line about every 2 s. A test log gets six bursts: three of templates never seen in
training (an OOM killer, a disk I/O error storm, a segfault) and three of known lines (ten failed logins in a row,
twice, and a systemd restart loop). For each seed, each window mode (sliding windows of 20 lines, time windows of
30 s) and each training size (the first 500 or all 4,000 lines), a model per arm is trained with ``logbert train``'s
defaults but for the score of its windows: the miss ratio (``scoring.score_for_windows = null``), ``max_nll`` (the
default since this benchmark) or ``max_mean_nll``. Then every window of the test log and of a clean log (no
burst) is scored at the stored threshold: a burst is found when a window holding one of its lines is flagged; a
false alarm is a flagged window holding none (test log) or any flagged window (clean log).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from benchmarks._report import generated_logs_cli, header, one_thread_in

BURST_KINDS = ("oom", "disk", "segv", "brute", "restart_loop")
ARMS: dict[str, dict[str, Any]] = {
    "miss_ratio": {"scoring.score_for_windows": None},
    "max_nll": {"scoring.score_for_windows": "max_nll"},  # the default since stop 51
    "max_mean_nll": {"scoring.score_for_windows": "max_mean_nll"},
}


def syslog(n: int, start: float, seed: int, bursts: bool) -> tuple[list[str], list[tuple[int, int, str]]]:
    """``n`` lines of the generated host (and, with ``bursts``, the six bursts): the lines, and each burst's first
    and last line number (1-based) and kind."""
    rng = random.Random(seed)
    users = ["deploy", "alice", "bob", "backup"]
    ips = [f"10.0.{rng.randint(0, 5)}.{rng.randint(2, 250)}" for _ in range(20)]
    pid = [3000]

    def npid() -> int:
        pid[0] += rng.randint(1, 40)
        return pid[0]

    def uptime() -> str:
        return f"[{rng.uniform(1000, 90000):.6f}]"

    def ssh_login() -> list[str]:
        p, u, ip, port = npid(), rng.choice(users), rng.choice(ips), rng.randint(30000, 65000)
        key = "".join(rng.choice("abcdefXYZ0123") for _ in range(20))
        return [f"sshd[{p}]: Accepted publickey for {u} from {ip} port {port} ssh2: RSA SHA256:{key}",
                f"sshd[{p}]: pam_unix(sshd:session): session opened for user {u}(uid={1000 + users.index(u)}) by "
                "(uid=0)",
                f"systemd-logind[512]: New session {rng.randint(1, 900)} of user {u}.",
                f"sshd[{p}]: Received disconnect from {ip} port {port}:11: disconnected by user",
                f"sshd[{p}]: Disconnected from user {u} {ip} port {port}",
                f"sshd[{p}]: pam_unix(sshd:session): session closed for user {u}"]

    def cron() -> list[str]:
        p = npid()
        job = rng.choice(["/usr/local/bin/backup.sh", "run-parts /etc/cron.hourly", "/usr/lib/php/sessionclean",
                          "certbot -q renew"])
        return [f"CRON[{p}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                f"CRON[{p}]: (root) CMD ({job})",
                f"CRON[{p}]: pam_unix(cron:session): session closed for user root"]

    def failed_ssh() -> list[str]:
        p, ip, u = npid(), f"203.0.113.{rng.randint(1, 254)}", rng.choice(["admin", "test", "oracle", "ubuntu"])
        return [f"sshd[{p}]: Invalid user {u} from {ip} port {rng.randint(30000, 65000)}",
                f"sshd[{p}]: Connection closed by invalid user {u} {ip} port {rng.randint(30000, 65000)} [preauth]"]

    def misc() -> list[str]:
        return [rng.choice([
            "systemd[1]: Starting Cleanup of Temporary Directories...",
            f"systemd[1]: Started Session {rng.randint(1, 900)} of User deploy.",
            f"kernel: {uptime()} [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=198.51.100.{rng.randint(1, 254)} "
            f"DST=10.0.0.5 LEN=40 PROTO=TCP SPT={rng.randint(1000, 65000)} DPT={rng.choice([23, 3389, 445])}",
            "systemd-timesyncd[488]: Synchronized to time server 192.0.2.123:123 (ntp.ubuntu.com).",
            f"nginx[900]: 2024/03/05 10:00:00 [warn] 900#900: *{rng.randint(1, 99999)} an upstream response is "
            "buffered to a temporary file",
            "dhclient[700]: DHCPREQUEST for 10.0.0.5 on eth0 to 10.0.0.1 port 67",
            "dhclient[700]: DHCPACK of 10.0.0.5 from 10.0.0.1",
        ])]

    def oom() -> list[str]:
        v = rng.randint(4000, 9000)
        return [f"kernel: {uptime()} java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, "
                "oom_score_adj=0",
                f"kernel: {uptime()} CPU: 1 PID: {v} Comm: java Not tainted 5.15.0-91-generic #101-Ubuntu",
                f"kernel: {uptime()} Mem-Info:",
                f"kernel: {uptime()} Out of memory: Killed process {v} (java) total-vm:8123456kB, anon-rss:3999888kB, "
                "file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:8000kB oom_score_adj:0",
                f"kernel: {uptime()} oom_reaper: reaped process {v} (java), now anon-rss:0kB, file-rss:0kB, "
                "shmem-rss:0kB",
                "systemd[1]: app.service: Main process exited, code=killed, status=9/KILL",
                "systemd[1]: app.service: Failed with result 'oom-kill'."]

    def disk() -> list[str]:
        s = rng.randint(100000, 99999999)
        return [f"kernel: {uptime()} blk_update_request: I/O error, dev sda, sector {s} op 0x1:(WRITE) flags 0x800 "
                "phys_seg 1 prio class 0",
                f"kernel: {uptime()} Buffer I/O error on dev sda1, logical block {s // 8}, lost async page write",
                f"kernel: {uptime()} EXT4-fs error (device sda1): ext4_journal_check_start:83: comm nginx: Detected "
                "aborted journal"]

    def segv() -> list[str]:
        return [f"kernel: {uptime()} php-fpm[{npid()}]: segfault at 0 ip 00007f3c2a1b2c3d sp 00007ffd1e2f3a40 "
                "error 4 in libc.so.6[7f3c2a000000+195000]",
                "systemd[1]: php-fpm.service: Main process exited, code=dumped, status=11/SEGV"]

    def brute() -> list[str]:
        return [m for _ in range(10) for m in failed_ssh()]

    def restart_loop() -> list[str]:
        return [m for _ in range(8) for m in ["systemd[1]: Starting Cleanup of Temporary Directories...",
                                              f"systemd[1]: Started Session {rng.randint(1, 900)} of User deploy."]]

    timed: list[tuple[float, str]] = []
    t = start
    while len(timed) < n:
        r = rng.random()
        group = ssh_login() if r < 0.25 else cron() if r < 0.5 else failed_ssh() if r < 0.65 else misc()
        for message in group:
            t += rng.expovariate(1 / 2.0)
            timed.append((t, message))
    spans: list[tuple[int, int, str]] = []
    if bursts:
        makers = {"oom": oom, "disk": disk, "segv": segv, "brute": brute, "restart_loop": restart_loop}
        at = {k * len(timed) // 7: kind for k, kind in enumerate(
            ["oom", "disk", "segv", "brute", "restart_loop", "brute"], start=1)}
        with_bursts: list[tuple[float, str]] = []
        for i, (when, message) in enumerate(timed):
            with_bursts.append((when, message))
            if i in at:
                first = len(with_bursts) + 1
                for _ in range(6 if at[i] == "disk" else 1):
                    with_bursts += [(when, m) for m in makers[at[i]]()]
                spans.append((first, len(with_bursts), at[i]))
        timed = with_bursts
    lines = [f"{time.strftime('%b %e %H:%M:%S', time.gmtime(when))} web01 {message}" for when, message in timed]
    return lines, spans


def run(seed: int, mode: str, size: int, arm: str, work: Path, extra: dict[str, Any]) -> dict[str, Any]:
    from logbert import api

    base = 1709632800 + 86400 * seed
    train, _ = syslog(4000, base, 10 * seed + 1, bursts=False)
    test, spans = syslog(2000, base + 17200, 10 * seed + 2, bursts=True)
    clean, _ = syslog(1500, base + 27200, 10 * seed + 3, bursts=False)
    logs = {}
    for name, lines in (("train", train[:size]), ("test", test), ("clean", clean)):
        logs[name] = work / f"{name}_{seed}_{size}.log"
        logs[name].write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    overrides: dict[str, Any] = {"parser.format": "syslog", "window.mode": mode, "train.num_threads": 1,
                                 **({"window.time_window_s": 30} if mode == "time" else {}), **ARMS[arm], **extra}
    out = work / f"art_{seed}_{mode}_{size}_{arm}"
    api.train(logs["train"], out, api.load_config(None, overrides), overwrite=True, progress=False)
    detector = api.load_detector(out)
    found: set[int] = set()
    false_test = 0
    scored = api.score(detector, logs["test"])
    for r in scored:
        assert r.first_line_no is not None and r.last_line_no is not None
        hit = [i for i, (a, b, _) in enumerate(spans) if not (r.last_line_no < a or r.first_line_no > b)]
        if r.is_anomaly:
            found.update(hit)
            false_test += not hit
    false_clean = sum(r.is_anomaly for r in api.score(detector, logs["clean"]))
    return {
        "seed": seed, "mode": mode, "train_lines": size, "arm": arm, "score": detector.config.scoring.score,
        "threshold": detector.threshold, "found": sorted(spans[i][2] for i in found), "bursts": len(spans),
        "false_alarms_test": false_test, "test_windows": len(scored), "false_alarms_clean": false_clean,
        "clean_windows": sum(1 for _ in api.score(detector, logs["clean"])),
    }


def main(argv: list[str] | None = None) -> None:
    cli = generated_logs_cli(__doc__ or "", "interleaved")
    cli.add_argument("--seeds", default="1,2")
    cli.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    args = cli.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    if not arms or set(arms) - set(ARMS):
        cli.error(f"--arms takes some of {', '.join(ARMS)}")
    from logbert.cli._common import parse_overrides

    work = one_thread_in(args.work)
    extra = parse_overrides(args.set)
    rows = []
    started = time.perf_counter()
    for seed in (int(s) for s in args.seeds.split(",")):
        for mode in ("sliding", "time"):
            for size in (500, 4000):
                for arm in arms:
                    row = run(seed, mode, size, arm, work, extra)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    lines = [*header("Windows of an interleaved stream: miss ratio or largest key surprise", "benchmarks.interleaved",
                     argv, "1 torch thread"), "", (__doc__ or "").split("\n\n", 2)[2].strip(), "",
             "| seed | windows | training lines | score | threshold | bursts found | false alarms: test log "
             "| clean log |",
             "|---:|---|---:|---|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['mode']} | {r['train_lines']} | {r['score']} | {r['threshold']:.4f} | "
                     f"{len(r['found'])} of {r['bursts']} ({', '.join(r['found']) or 'none'}) | "
                     f"{r['false_alarms_test']} of {r['test_windows']} | {r['false_alarms_clean']} of "
                     f"{r['clean_windows']} |")
    lines.append("")
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm]
        found = sum(len(r["found"]) for r in mine)
        bursts = sum(r["bursts"] for r in mine)
        alarms = sum(r["false_alarms_test"] + r["false_alarms_clean"] for r in mine)
        windows = sum(r["test_windows"] - len(r["found"]) + r["clean_windows"] for r in mine)
        lines.append(f"- {arm}: {found} of {bursts} bursts found; {alarms} false alarms in about {windows} normal "
                     "windows")
    lines.append(f"\n{(time.perf_counter() - started) / 60:.1f} min.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
