"""The probes, by category. Each is ``probe(ws) -> Result``; see :mod:`benchmarks.probes.core` for outcomes."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.probes.core import (
    Answer,
    Cli,
    Endpoint,
    Probe,
    Result,
    Workspace,
    free_port,
    http_refusal,
    refusal,
    shorten,
)

SECURITY = "security"
HTTP_500 = "http_500"
CLI = "cli_traceback"
SILENT = "silent_wrong"
GROWTH = "unbounded_growth"
DATA_LOSS = "data_loss"
CATEGORIES = (SECURITY, HTTP_500, CLI, SILENT, GROWTH, DATA_LOSS)

PUBLIC = ("/health/live", "/health/ready")
ProbeFn = Callable[[Workspace], Result]


# ------------------------------------------------------------------------------------------ helpers


def routes(server: Endpoint) -> list[tuple[str, str]]:
    """Every API operation of the served ``/openapi.json`` (ids filled in) plus ``/metrics`` and the docs,
    public ones left out. The schema itself is behind the key when the server has one."""
    ans = server.request("GET", "/openapi.json", auth=True)
    paths = json.loads(ans.body)["paths"]
    out = [
        (method.upper(), path.replace("{session_id}", "vm-probe").replace("{alert_id}", "1"))
        for path, ops in paths.items()
        for method in ops
        if path not in PUBLIC
    ]
    return [*out, ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/openapi.json")]


def send_to_all(server: Endpoint, headers: dict[str, str], query: str = "") -> list[tuple[str, str, Answer]]:
    answers = []
    for method, path in routes(server):
        body = b"{}" if method == "POST" else None
        sent = {**headers, **({"Content-Type": "application/json"} if body else {})}
        answers.append((method, path, server.request(method, path + query, body, headers=sent, auth=False)))
    return answers


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def forge_hashes(artifact: Path) -> None:
    """What a tamperer with write access does after editing: rewrite meta.json's hash table and its own hash.

    The signature (``hmac_sha256``, when the artifact is signed) is left as it was: it needs the secret.
    """
    meta_path = artifact / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = {name: sha256(artifact / name) for name in meta["sha256"]}
    body = {k: v for k, v in meta.items() if k not in ("meta_sha256", "hmac_sha256")}
    meta["meta_sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))


def edit_json(path: Path, edit: Callable[[dict[str, object]], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def nan_weights(artifact: Path) -> None:
    """One NaN in the first floating-point tensor other than the centre."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    path = artifact / "model.safetensors"
    tensors = load_file(str(path))
    name = next(n for n, t in tensors.items() if n != "center" and np.issubdtype(t.dtype, np.floating))
    tensors[name] = tensors[name].copy()
    tensors[name].flat[0] = np.nan
    save_file(tensors, str(path))


def session_lines(ws: Workspace, n_sessions: int, start: int = 0) -> list[str]:
    """One raw line for each of ``n_sessions`` new instance ids (a real line of the log, its id replaced)."""
    template = next(ln for ln in ws.raw_log.read_text().splitlines() if "[instance: " in ln)
    old = re.search(r"\[instance: ([0-9a-f-]{36})\]", template)
    assert old is not None
    return [template.replace(old.group(1), str(uuid.UUID(int=start + i))) for i in range(n_sessions)]


def _bracketed(cli: Cli, texts: tuple[str, ...], what: str) -> Result:
    """A refusal whose message must keep ``texts`` verbatim (Rich markup must not eat them)."""
    judged = refusal(cli, what)
    if judged is None:
        return Result("silent_wrong", f"{what}: exit 0")
    said = "".join(cli.stderr.split())
    lost = [t for t in texts if "".join(t.split()) not in said]
    if judged.outcome == "clear_error" and lost:
        return Result("silent_wrong", f"{what}: the message lost {lost}: {cli.message()}")
    return judged


# ----------------------------------------------------------------------------------------- security


def _serve_refuses(ws: Workspace, what: str, *args: str | Path) -> Result:
    db = ws.fresh_dir("refused") / "alerts.sqlite3"
    cli = ws.cli("serve", ws.artifact, "--port", str(free_port()), "--alerts-db", db, *args, timeout=45)
    if cli.rc is None:
        return Result("security_hole", f"{what}: it started serving (still running after 45 s)")
    judged = refusal(cli, what, must_mention=["key"])
    return judged or Result("security_hole", f"{what}: exit 0")


def empty_key_file(content: str, label: str) -> ProbeFn:
    def probe(ws: Workspace) -> Result:
        key_file = ws.file(f"keys/{label.replace(' ', '-')}.key", content)
        return _serve_refuses(ws, f"serve --api-key-file ({label})", "--api-key-file", key_file)

    return probe


def missing_key_file(ws: Workspace) -> Result:
    return _serve_refuses(ws, "serve --api-key-file <missing>", "--api-key-file", ws.root / "no-such.key")


def serve_missing_artifact(ws: Workspace) -> Result:
    cli = ws.cli("serve", ws.root / "no-such-artifact", "--port", str(free_port()), timeout=60)
    if cli.rc is None:
        return Result("crash", "serve <missing artifact>: still running after 60 s")
    return refusal(cli, "serve <missing artifact>", ("no-such-artifact",)) or Result("silent_wrong", "exit 0")


def empty_key_option(ws: Workspace) -> Result:
    return _serve_refuses(ws, 'serve --api-key ""', "--api-key", "")


def key_matrix(label: str, headers: dict[str, str] | Callable[[str], dict[str, str]], query: str = "") -> ProbeFn:
    """Every /v1 operation and /metrics of the keyed server with these credentials: all must be 401."""

    def probe(ws: Workspace) -> Result:
        server = ws.server("keyed")
        assert server.key is not None
        sent = headers(server.key) if callable(headers) else headers
        answers = send_to_all(server, sent, query.format(key=server.key))
        statuses = [a.status for _, _, a in answers]
        let_in = [f"{m} {p} {a.status}" for m, p, a in answers if 200 <= a.status < 400]
        broken = [f"{m} {p} {a.status or a.error}" for m, p, a in answers if a.status >= 500 or a.status == 0]
        other = [f"{m} {p} {a.status}" for m, p, a in answers if 400 <= a.status < 500 and a.status != 401]
        what = f"{label} on {len(answers)} endpoints"
        if let_in:
            return Result("security_hole", f"{what}: let in: {', '.join(let_in[:5])}")
        if broken:
            return Result("crash", f"{what}: {', '.join(broken[:5])}")
        if other:
            return Result("clear_error", f"{what}: refused, but not always with 401: {', '.join(other[:5])}")
        return Result("clear_error", f"{what}: all {statuses.count(401)} answered 401")

    return probe


def right_key_accepted(label: str, headers: Callable[[str], dict[str, str]]) -> ProbeFn:
    def probe(ws: Workspace) -> Result:
        server = ws.server("keyed")
        assert server.key is not None
        answers = send_to_all(server, headers(server.key))
        refused = [f"{m} {p}" for m, p, a in answers if a.status == 401]
        broken = [f"{m} {p} {a.status}" for m, p, a in answers if a.status >= 500 or a.status == 0]
        if broken:
            return Result("crash", f"{label}: {', '.join(broken[:5])}")
        if refused:
            return Result("silent_wrong", f"{label}: the right key was refused by {', '.join(refused[:5])}")
        return Result("ok", f"{label}: accepted by all {len(answers)} endpoints")

    return probe


def made_up_methods(ws: Workspace) -> Result:
    """2,000 requests with made-up methods and paths, no key: /metrics must not grow a series for each.

    The first few may add one series per (method "other", route, status) once; after them, nothing.
    """
    server = ws.server("keyed")
    conn = server.connection()
    statuses: set[int] = set()

    def send(first: int, n: int) -> None:
        for i in range(first, first + n):
            path = "/v1/stats" if i % 2 else f"/made/up/{i}"
            statuses.add(server.request(f"PROBE{i}", path, auth=False, conn=conn).status)

    send(0, 20)  # the once-only series
    before = server.request("GET", "/metrics").body
    send(20, 2000)
    conn.close()
    after = server.request("GET", "/metrics").body
    grew = len(after) - len(before)
    new_lines = len(after.splitlines()) - len(before.splitlines())
    what = f"2000 made-up methods and paths without a key (answers {sorted(statuses)})"
    if any(s >= 500 or s == 0 for s in statuses):
        return Result("crash", f"{what}: /metrics {len(before)} -> {len(after)} bytes")
    if new_lines > 0 or grew > 512:
        return Result("security_hole", f"{what}: /metrics grew {grew} bytes, {new_lines} new lines")
    return Result("ok", f"{what}: /metrics {len(before)} -> {len(after)} bytes, {new_lines} new lines")


def key_in_dashboard_url(ws: Workspace) -> Result:
    """A key in the URL (``?key=``) is never used: not by the API, not by the dashboard's script."""
    server = ws.server("keyed")
    assert server.key is not None
    page = server.request("GET", f"/dashboard/?key={server.key}", auth=False)
    script = server.request("GET", "/dashboard/app.js", auth=False)
    reads_key = re.search(rb"""\.get\(\s*["'](key|api_?key|token|apiKey)["']\s*\)""", script.body)
    api = [server.request("GET", f"/v1/stats?{name}={server.key}", auth=False).status for name in ("key", "api_key")]
    what = "dashboard ?key= and /v1/stats?key="
    if page.status != 200 or script.status != 200:
        return Result("crash", f"{what}: dashboard answered {page.status}, app.js {script.status}")
    if reads_key or any(s != 401 for s in api):
        said = f"script reads a key from the URL: {bool(reads_key)}; API answered {api}"
        return Result("security_hole", f"{what}: {said}")
    return Result("ok", f"{what}: the script never reads a key from the URL; API answered {api}")


def _tampered_score(ws: Workspace, what: str, tamper: Callable[[Path], None], must: tuple[str, ...] = (),
                    env: dict[str, str] | None = None) -> Result:  # fmt: skip
    art = ws.artifact_copy("tampered")
    tamper(art)
    cli = ws.cli("score", art, ws.raw_log, env=env)
    judged = refusal(cli, what, must_mention=must)
    cost = f"{cli.seconds:.1f} s, peak RSS {cli.peak_rss_kib // 1024} MiB"
    if judged is None:
        return Result("security_hole", f"{what}: loaded and scored (exit 0; {cost})")
    return Result(judged.outcome, f"{judged.detail} ({cost})")


def tamper_threshold(ws: Workspace) -> Result:
    return _tampered_score(
        ws, "threshold edited in meta.json", lambda a: edit_json(a / "meta.json", lambda m: m.update(threshold=99.0)),
        ("meta.json",),
    )


def tamper_nan_weights(ws: Workspace) -> Result:
    return _tampered_score(ws, "a NaN in model.safetensors", nan_weights, ("model.safetensors",))


def tamper_nan_weights_forged(ws: Workspace) -> Result:
    def tamper(art: Path) -> None:
        nan_weights(art)
        forge_hashes(art)

    return _tampered_score(ws, "a NaN in the weights, every hash rewritten", tamper, ("NaN",))


def _huge_d_ff(d_ff: int, n_layers: int) -> Callable[[Path], None]:
    def edit(cfg: dict[str, object]) -> None:
        model = cfg["model"]
        assert isinstance(model, dict)
        model.update(d_ff=d_ff, n_layers=n_layers)

    return lambda art: edit_json(art / "config.json", edit)


def tamper_huge_d_ff(ws: Workspace) -> Result:
    return _tampered_score(ws, "d_ff = 10**9 in config.json", _huge_d_ff(10**9, 1), ("config.json",))


def tamper_huge_d_ff_forged(ws: Workspace) -> Result:
    """Within the config bounds (d_ff 65536, 96 layers) and re-hashed: refused, but at what cost?"""

    def tamper(art: Path) -> None:
        _huge_d_ff(65536, 96)(art)
        forge_hashes(art)

    return _tampered_score(ws, "d_ff 65536 x 96 layers in config.json, every hash rewritten", tamper)


def tamper_other_parser(ws: Workspace) -> Result:
    other = ws.other_artifact / "parser.json"

    def tamper(art: Path) -> None:
        shutil.copy(other, art / "parser.json")

    return _tampered_score(ws, "another artifact's parser.json", tamper, ("parser.json",))


def tamper_other_parser_forged_signed(ws: Workspace) -> Result:
    """The forger rewrites every hash; only the signature (LOGBERT_ARTIFACT_KEY set where it loads) stops them."""
    other = ws.other_artifact / "parser.json"

    def tamper(art: Path) -> None:
        shutil.copy(other, art / "parser.json")
        forge_hashes(art)

    what = "another artifact's parser.json, every hash rewritten, LOGBERT_ARTIFACT_KEY set"
    signed = _tampered_score(ws, what, tamper, ("signature",), env={"LOGBERT_ARTIFACT_KEY": ws.signing_key})
    unsigned = _tampered_score(ws, "same without the key", tamper)
    note = "without the key it loads (the documented limit: hashes stop edits, only the signature stops a forger)"
    if unsigned.outcome != "security_hole":
        note = f"without the key: {unsigned.detail}"
    return Result(signed.outcome, f"{signed.detail}; {note}")


def tampered_artifact_refused_by_serve(ws: Workspace) -> Result:
    art = ws.artifact_copy("tampered-serve")
    edit_json(art / "meta.json", lambda m: m.update(threshold=99.0))
    db = ws.fresh_dir("refused") / "alerts.sqlite3"
    cli = ws.cli("serve", art, "--port", str(free_port()), "--alerts-db", db, timeout=60)
    if cli.rc is None:
        return Result("security_hole", "serve with an edited threshold: it started serving")
    return refusal(cli, "serve with an edited threshold in meta.json", ("meta.json",)) or Result(
        "security_hole", "serve with an edited threshold: exit 0"
    )


# ------------------------------------------------------------------------------------------- HTTP 500

BIG = 9 * 1024 * 1024  # past the default max_body_bytes (8 MiB)
HOSTILE: list[tuple[str, str, str, bytes | None, str, tuple[int, ...]]] = [
    # name, method, path, body, content type, statuses that count as ok (besides a 4xx: clear_error)
    ("lone surrogate in a line", "POST", "/v1/ingest", b'{"lines": ["\\ud800 x"]}', "application/json", ()),
    ("lone surrogate in source", "POST", "/v1/ingest", b'{"line": "x", "source": "\\udc80"}', "application/json", ()),
    ("lone surrogate in a session id", "POST", "/v1/score",
     b'{"sequences": [{"session_id": "\\ud800", "keys": [1, 2]}]}', "application/json", ()),
    ("surrogate bytes in a text body", "POST", "/v1/ingest/text", b"\xed\xa0\x80 x\n", "text/plain", (200,)),
    ("NaN literal", "POST", "/v1/ingest", b'{"lines": [NaN]}', "application/json", ()),
    ("Infinity literal in keys", "POST", "/v1/score",
     b'{"sequences": [{"session_id": "a", "keys": [Infinity]}]}', "application/json", ()),
    ("-Infinity min_score", "GET", "/v1/alerts?min_score=-Infinity", None, "", (200,)),
    ("NaN since", "GET", "/v1/alerts?since=NaN", None, "", (200,)),
    ("offset 2^63", "GET", "/v1/alerts?offset=9223372036854775808", None, "", ()),
    ("after_id 2^64", "GET", "/v1/alerts?after_id=18446744073709551616", None, "", ()),
    ("alert id 2^63", "GET", "/v1/alerts/9223372036854775808", None, "", ()),
    ("incidents offset 2^63", "GET", "/v1/incidents?offset=9223372036854775808", None, "", ()),
    ("limit 10^20", "GET", "/v1/scores?limit=100000000000000000000", None, "", ()),
    ("key 2^63 in a sequence", "POST", "/v1/score",
     b'{"sequences": [{"session_id": "a", "keys": [9223372036854775808]}]}', "application/json", ()),
    ("5000-digit integer", "POST", "/v1/score",
     b'{"sequences": [{"session_id": "a", "keys": [' + b"1" * 5000 + b"]}]}", "application/json", ()),
    ("JSON nested 100000 deep", "POST", "/v1/ingest", b"[" * 100_000 + b"]" * 100_000, "application/json", ()),
    ("truncated JSON", "POST", "/v1/ingest", b'{"lines": ["a"', "application/json", ()),
    ("JSON that is not UTF-8", "POST", "/v1/ingest", b'{"line": "\xff\xfe"}', "application/json", ()),
    ("JSON sent as text/plain", "POST", "/v1/score", b'{"lines": ["x"]}', "text/plain", (200,)),
    ("form body", "POST", "/v1/score", b"lines=x&explain=true", "application/x-www-form-urlencoded", ()),
    ("multipart without a boundary", "POST", "/v1/ingest", b"--x\r\n\r\n", "multipart/form-data", ()),
    ("no content type", "POST", "/v1/ingest", b'{"line": "x"}', "", (200,)),
    ("JSON to the text endpoint", "POST", "/v1/ingest/text", b'{"line": "x"}', "application/json", (200,)),
    ("invalid UTF-8 escapes in a path", "GET", "/v1/sessions/%FF%FE", None, "", ()),
    ("surrogate escapes in a query", "GET", "/v1/alerts?session_id=%ED%A0%80", None, "", (200,)),
    ("NUL in a path", "POST", "/v1/sessions/%00/close", None, "", ()),
    ("9 MiB body (declared)", "POST", "/v1/ingest", b'{"lines": ["' + b"x" * BIG + b'"]}', "application/json", ()),
]  # fmt: skip


def hostile_request(name: str, method: str, path: str, body: bytes | None, ctype: str, ok: tuple[int, ...]) -> ProbeFn:
    def probe(ws: Workspace) -> Result:
        server = ws.server("open")
        headers = {"Content-Type": ctype} if ctype else {}
        return http_refusal(server.request(method, path, body, headers=headers), name, ok)

    return probe


def chunked_body(ws: Workspace) -> Result:
    """9 MiB sent chunked, with no Content-Length: the limit must hold while streaming."""
    server = ws.server("open")
    chunks = (b'{"lines": ["', *(b"x" * 65536 for _ in range(BIG // 65536)), b'"]}')
    ans = server.request("POST", "/v1/ingest", chunks, headers={"Content-Type": "application/json"}, chunked=True)
    return http_refusal(ans, "9 MiB chunked body")


def long_url(ws: Workspace) -> Result:
    server = ws.server("open")
    ans = server.request("GET", "/v1/sessions/" + "a" * 100_000)
    if ans.status == 0:  # h11 drops a request line past its limit without an answer
        alive = server.alive()
        detail = f"100 kB URL: connection closed without an answer ({ans.error}); server alive: {alive}"
        return Result("clear_error" if alive else "crash", detail)
    return http_refusal(ans, "100 kB URL", (404,))


def server_survived(ws: Workspace) -> Result:
    server = ws.server("open")
    ok = server.alive() and server.request("GET", "/v1/stats").status == 200
    rss = server.rss_kib()
    detail = f"after the hostile requests the server answers: {ok} (RSS {rss // 1024} MiB)"
    return Result("ok" if ok else "crash", detail)


# -------------------------------------------------------------------------------------- CLI tracebacks


def score_out_dir(ws: Workspace) -> Result:
    (ws.root / "a-dir").mkdir(exist_ok=True)
    log = ws.file("score-out-dir.log", "line\n")
    cli = ws.cli("score", ws.root / "no-such-artifact", log, "-o", ws.root / "a-dir")
    return refusal(cli, "score -o <dir>", ("directory",)) or Result("silent_wrong", "score -o <dir>: exit 0")


def score_out_missing_parent(ws: Workspace) -> Result:
    out = ws.root / "missing" / "parent" / "x.csv"
    cli = ws.cli("score", ws.artifact, ws.raw_log, "-o", out)
    judged = refusal(cli, "score -o missing/parent/x.csv")
    if judged is not None:
        return judged
    n = len(out.read_text().splitlines()) if out.is_file() else 0
    return Result("ok" if n else "silent_wrong", f"score -o missing/parent/x.csv: exit 0, parents made, {n} rows")


def evaluate_report_dir(ws: Workspace) -> Result:
    (ws.root / "a-dir").mkdir(exist_ok=True)
    cli = ws.cli("evaluate", ws.artifact, ws.raw_log, "--labels", ws.labels, "--report", ws.root / "a-dir")
    return refusal(cli, "evaluate --report <dir>", ("directory",)) or Result("silent_wrong", "exit 0")


def train_out_file(ws: Workspace) -> Result:
    existing = ws.file("existing-file", "not an artifact\n")
    log = ws.file("train-out-file.log", "line\n")
    cli = ws.cli("train", log, "-o", existing)
    judged = refusal(cli, "train -o <existing file>")
    if judged is None:
        return Result("data_loss", "train -o <existing file>: exit 0")
    if existing.read_text() != "not an artifact\n":
        return Result("data_loss", f"{judged.detail}; and the file was changed")
    return judged


def unreadable_weights(ws: Workspace) -> Result:
    art = ws.artifact_copy("unreadable")
    weights = art / "model.safetensors"
    if os.geteuid() == 0:  # root reads a mode-000 file anyway: a folder in its place cannot be read by anyone
        weights.unlink()
        weights.mkdir()
        how = "a folder in place of model.safetensors (running as root: chmod 000 does not stop root)"
    else:
        weights.chmod(0)
        how = "model.safetensors chmod 000"
    cli = ws.cli("score", art, ws.raw_log)
    return refusal(cli, how, ("model.safetensors",)) or Result("silent_wrong", f"{how}: exit 0")


def garbage_weights(ws: Workspace) -> Result:
    def tamper(art: Path) -> None:
        (art / "model.safetensors").write_bytes(b"\x00garbage" * 100)
        forge_hashes(art)

    return _tampered_score(ws, "garbage model.safetensors (hashes rewritten)", tamper, ("model.safetensors",))


def invalid_mask_regex(ws: Workspace) -> Result:
    log = ws.file("mask-regex.log", "line\n")
    cli = ws.cli("train", log, "-o", ws.root / "never", "--set", 'parser.masks=[{"name": "x", "pattern": "([a-"}]')
    return refusal(cli, "train --set parser.masks=<invalid regex>", ("regex",)) or Result("silent_wrong", "exit 0")


def _labels_with(ws: Workspace, name: str, extra: str) -> Path:
    text = ws.labels.read_text()
    return ws.file(name, text.rstrip("\n") + "\n" + extra + "\n")


def labels_id_twice(ws: Workspace) -> Result:
    first = ws.labels.read_text().splitlines()[1]
    labels = _labels_with(ws, "labels-twice.csv", first)
    cli = ws.cli("evaluate", ws.artifact, ws.raw_log, "--labels", labels, "--report", ws.root / "r1.json")
    judged = refusal(cli, "labels listing an id twice (same label)")
    return judged or Result("ok", "labels listing an id twice (same label): exit 0, the same result")


def labels_id_conflicting(ws: Workspace) -> Result:
    first = ws.labels.read_text().splitlines()[1].split(",")
    flipped = "Anomaly" if first[1].lower() == "normal" else "normal"
    labels = _labels_with(ws, "labels-conflict.csv", ",".join([first[0], flipped, *first[2:]]))
    cli = ws.cli("evaluate", ws.artifact, ws.raw_log, "--labels", labels, "--report", ws.root / "r2.json")
    what = "labels listing an id twice with both labels"
    judged = refusal(cli, what)
    if judged is not None:
        return judged
    if first[0] in cli.stderr and "conflict" in cli.stderr.lower():
        return Result("ok", f"{what}: exit 0, warned: {shorten(cli.stderr.splitlines()[0], 160)}")
    return Result("silent_wrong", f"{what}: exit 0, nothing said about the conflict")


def markup_in_path(ws: Workspace) -> Result:
    cli = ws.cli("train", ws.root / "logs" / "[/x] [red]y[/red].log", "-o", ws.root / "never")
    return _bracketed(cli, ("[/x]", "[red]y[/red]"), "train on a missing '[/x] [red]y[/red].log'")


def bracketed_path_kept(ws: Workspace) -> Result:
    cli = ws.cli("train", ws.root / "logs" / "[instance: abc] [req-1].log", "-o", ws.root / "never")
    return _bracketed(cli, ("[instance: abc]", "[req-1]"), "train on a missing '[instance: abc] [req-1].log'")


def markup_in_existing_path(ws: Workspace) -> Result:
    name = "[bold]x [red]y [link=z].log"  # a file name cannot hold the "/" of a closing tag
    log = ws.root / name
    shutil.copy(ws.raw_log, log)
    cli = ws.cli("score", ws.artifact, log, "-o", ws.root / "markup-path.jsonl")
    judged = refusal(cli, f"score a log named {name!r}")
    return judged or Result("ok", f"score a log named {name!r}: exit 0")


MARKUP_LINE = (
    "nova-compute.log.1 2017-05-16 00:00:0{i}.099 2931 INFO nova.compute.x [req-1 - - - - -] "
    "[/x] [red]boom[/red] [bold]b [instance: 8acc9fc5-05e0-4d18-8f74-a4773b6180c7] spawned\n"
)


def markup_in_log_line_error(ws: Workspace) -> Result:
    log = ws.file("markup-error.log", "".join(MARKUP_LINE.format(i=i) for i in range(3)))
    cli = ws.cli("score", ws.artifact, log, "--input", "keys")
    return _bracketed(cli, ("[/x]", "[red]boom[/red]"), "an error quoting a log line with markup")


def markup_in_log_line_parse(ws: Workspace) -> Result:
    log = ws.file("markup-parse.log", "".join(MARKUP_LINE.format(i=i) for i in range(3)))
    cli = ws.cli("parse", log, "--preset", "openstack")
    judged = refusal(cli, "parse a log line with markup")
    if judged is not None:
        return judged
    kept = "[red]boom" in cli.stdout and "[bold]b" in cli.stdout  # "[/red]" itself is masked, like a path
    what = "parse: a template with '[red]boom' and '[bold]b'"
    return Result("ok", f"{what}: shown as text") if kept else Result("silent_wrong", f"{what}: markup not kept")


def markup_in_log_line_score(ws: Workspace) -> Result:
    log = ws.file("markup-score.log", "".join(MARKUP_LINE.format(i=i) for i in range(3)))
    cli = ws.cli("score", ws.artifact, log, "--format", "table", "--explain")
    judged = refusal(cli, "score --format table --explain on markup lines")
    return judged or Result("ok", "score --format table --explain on lines with markup: exit 0")


# -------------------------------------------------------------------------------------- silent wrong


def numbers_as_raw(ws: Workspace) -> Result:
    log = ws.file("numbers.log", "1 2 3 4\n5 6 7 8\n1 2 3\n")
    cli = ws.cli("score", ws.artifact, log, "--input", "raw")
    what = "a raw log of numbers with --input raw"
    judged = refusal(cli, what)
    if judged is None:
        return Result("ok", f"{what}: exit 0, read as raw lines")
    if "key sequence" in cli.stderr.lower() and "holds" in cli.stderr.lower():
        return Result("silent_wrong", f"{what}: --input raw ignored: {cli.message()}")
    return judged


def key_file_vs_raw_artifact(ws: Workspace) -> Result:
    keys = ws.file("keys.txt", "a,1 2 3 4 5\nb,5 6 7 8\nc,2 2 2 2\n")
    cli = ws.cli("score", ws.artifact, keys)
    what = "a key file scored against a raw-log artifact"
    judged = refusal(cli, what)
    return judged or Result("silent_wrong", f"{what}: scored (exit 0): {shorten(cli.stdout, 120)}")


def _n_sessions(cli: Cli) -> int:
    return len([ln for ln in cli.stdout.splitlines() if ln.startswith("{")])


def _reference_sessions(ws: Workspace) -> int:
    """Sessions that ``logbert score`` finds in the probe log (LF endings), computed once."""
    return ws.once("reference-sessions", lambda: _n_sessions(ws.cli("score", ws.artifact, ws.raw_log)))


def line_endings(kind: str) -> ProbeFn:
    def probe(ws: Workspace) -> Result:
        text = ws.raw_log.read_bytes()
        odd = ws.file(f"{kind}.log", text.replace(b"\n", b"\r\n" if kind == "crlf" else b"\r"))
        cli = ws.cli("score", ws.artifact, odd)
        what = f"a {kind.upper()}-only log" if kind == "cr" else "a CRLF log"
        judged = refusal(cli, what)
        if judged is not None:
            return judged
        n, expected = _n_sessions(cli), _reference_sessions(ws)
        said = " ".join(cli.stderr.split())
        summary = shorten(said[said.find("lines:") :] if "lines:" in said else said, 200)
        if n == expected:
            return Result("ok", f"{what}: {n} sessions, as with LF endings")
        if re.search(r"\\r|carriage|CR\b|line ending|characters? (dropped|cut|ignored)", cli.stderr, re.I):
            return Result("clear_error", f"{what}: {n} of {expected} sessions, and said why: {summary}")
        return Result("silent_wrong", f"{what}: exit 0, {n} session(s) instead of {expected}; it says only: {summary}")

    return probe


def nan_threshold_score(ws: Workspace) -> Result:
    cli = ws.cli("score", ws.artifact, ws.raw_log, "--threshold", "nan")
    what = "score --threshold nan"
    judged = refusal(cli, what)
    if judged is not None:
        return judged
    strict = [ln for ln in cli.stdout.splitlines() if re.search(r"\b(NaN|-?Infinity)\b", ln)]
    valid = f"{len(strict)} lines with a NaN/Infinity literal (not JSON)" if strict else "valid JSON"
    return Result("silent_wrong", f"{what}: exit 0, nothing can be anomalous, output has {valid}")


def nan_threshold_serve(ws: Workspace) -> Result:
    from benchmarks.probes.core import Server

    what = "serve --threshold nan"
    server = Server(ws, ws.artifact, args=("--threshold", "nan"), name="serve-nan")
    try:
        server.start()
    except RuntimeError as exc:
        text = str(exc)
        if "Traceback" in text:
            return Result("crash", f"{what}: {shorten(text, 200)}")
        return Result("clear_error", f"{what}: refused at start: {shorten(text, 200)}")
    try:
        info = server.request("GET", "/v1/info")
        return Result("silent_wrong", f"{what}: serves; /v1/info: {info.text(120)} (no window can be anomalous)")
    finally:
        server.stop()


# ---------------------------------------------------------------------------------- unbounded growth


def _ingest_text(server: Endpoint, conn: http.client.HTTPConnection, source: str, body: bytes) -> int:
    headers = {"Content-Type": "text/plain"}
    return server.request("POST", f"/v1/ingest/text?source={source}", body, headers=headers, conn=conn).status


def many_sources(ws: Workspace) -> Result:
    """Distinct ``source`` values past max_sources (the bounded server: BOUND): RSS and /metrics stay flat."""
    server = ws.server("bounded")
    conn = server.connection()
    statuses: set[int] = set()
    marks = []
    counts = (500, 2000, 2000)
    n = 0
    for count in counts:
        for _ in range(count):
            statuses.add(_ingest_text(server, conn, f"probe-source-{n}", b"a line with no session id\n"))
            n += 1
        marks.append((server.rss_kib(), len(server.request("GET", "/metrics").body)))
    conn.close()
    (r0, m0), (r1, m1), (r2, m2) = marks
    what = f"{n} distinct sources (max_sources {ws.BOUND})"
    detail = f"RSS {r0 // 1024} -> {r1 // 1024} -> {r2 // 1024} MiB, /metrics {m0} -> {m1} -> {m2} bytes"
    if any(s >= 500 or s == 0 for s in statuses):
        return Result("crash", f"{what}: answers {sorted(statuses)}; {detail}")
    if m2 - m1 > 512 or (r2 - r1) > 16 * 1024:
        return Result("crash", f"{what}: still growing (would end out of memory): {detail}")
    return Result("ok", f"{what}: {detail}")


def many_sessions(ws: Workspace) -> Result:
    """3,000 distinct session ids: open and remembered sessions stay within their limits, RSS flat."""
    server = ws.server("bounded")
    marks = []
    start = 0
    statuses: set[int] = set()
    for count in (500, 1500, 1500):
        lines = session_lines(ws, count, start)
        start += count
        for i in range(0, count, 250):
            statuses.add(server.json("POST", "/v1/ingest", {"lines": lines[i : i + 250]}).status)
        stats = json.loads(server.request("GET", "/v1/stats").body)["values"]
        marks.append((server.rss_kib(), stats["sessions_open"], stats["sessions_known"]))
    what = f"{start} distinct sessions (max_open_sessions {ws.BOUND}, closed_sessions_kept {ws.BOUND})"
    detail = ", ".join(f"RSS {r // 1024} MiB open {o} known {k}" for r, o, k in marks)
    if any(s >= 500 or s == 0 for s in statuses):
        return Result("crash", f"{what}: answers {sorted(statuses)}; {detail}")
    over = [(o, k) for _, o, k in marks if o > ws.BOUND or k > 2 * ws.BOUND]
    if over or marks[2][0] - marks[1][0] > 16 * 1024:
        return Result("crash", f"{what}: past its limits or still growing: {detail}")
    return Result("ok", f"{what}: {detail}")


# ------------------------------------------------------------------------------------------ registry


def all_probes() -> list[Probe]:
    matrix = [
        ("no key", key_matrix("no key", {})),
        ("empty X-API-Key", key_matrix("empty X-API-Key", {"X-API-Key": ""})),
        ("wrong X-API-Key", key_matrix("wrong X-API-Key", {"X-API-Key": "wrong"})),
        ("key prefix", key_matrix("the key's first half", lambda k: {"X-API-Key": k[: len(k) // 2]})),
        ("key in upper case", key_matrix("the key in upper case", lambda k: {"X-API-Key": k.upper()})),
        ("non-ASCII key header", key_matrix("a non-ASCII X-API-Key", {"X-API-Key": "clé-é"})),
        ("empty bearer", key_matrix("Authorization: Bearer (empty)", {"Authorization": "Bearer "})),
        ("wrong bearer", key_matrix("Authorization: Bearer wrong", {"Authorization": "Bearer wrong"})),
        ("right key as Basic", key_matrix(
            "the right key as Basic auth",
            lambda k: {"Authorization": "Basic " + base64.b64encode(f"x:{k}".encode()).decode()},
        )),
        ("key in the query", key_matrix("?key=<right key>, no header", {}, query="?key={key}")),
        ("right key accepted", right_key_accepted("right X-API-Key", lambda k: {"X-API-Key": k})),
        ("right bearer accepted", right_key_accepted("right Bearer", lambda k: {"Authorization": f"Bearer {k}"})),
        ("2000 made-up methods without a key", made_up_methods),
        ("?key= in the dashboard URL ignored", key_in_dashboard_url),
    ]  # fmt: skip
    sec: list[tuple[str, ProbeFn]] = [
        ("empty API key file refused at start", empty_key_file("", "empty file")),
        ("blank API key file refused at start", empty_key_file("   \n", "blank line")),
        ("API key file with an empty first line", empty_key_file("\nthe-key\n", "empty first line")),
        ('--api-key "" refused at start', empty_key_option),
        ("missing API key file", missing_key_file),
        *matrix,
        ("tamper: threshold in meta.json", tamper_threshold),
        ("tamper: NaN weights", tamper_nan_weights),
        ("tamper: NaN weights, hashes forged", tamper_nan_weights_forged),
        ("tamper: huge d_ff in config.json", tamper_huge_d_ff),
        ("tamper: big d_ff x layers, hashes forged", tamper_huge_d_ff_forged),
        ("tamper: another artifact's parser.json", tamper_other_parser),
        ("tamper: parser swap forged, signed artifact", tamper_other_parser_forged_signed),
        ("tamper: serve refuses an edited threshold", tampered_artifact_refused_by_serve),
    ]  # fmt: skip
    http: list[tuple[str, ProbeFn]] = [(h[0], hostile_request(*h)) for h in HOSTILE]
    http += [("9 MiB chunked body", chunked_body), ("100 kB URL", long_url), ("server still up", server_survived)]
    cli: list[tuple[str, ProbeFn]] = [
        ("serve <missing artifact>", serve_missing_artifact),
        ("score -o <dir>", score_out_dir),
        ("score -o missing/parent/x.csv", score_out_missing_parent),
        ("evaluate --report <dir>", evaluate_report_dir),
        ("train -o <existing file>", train_out_file),
        ("unreadable weights", unreadable_weights),
        ("garbage weights", garbage_weights),
        ("invalid mask regex via --set", invalid_mask_regex),
        ("labels: an id twice", labels_id_twice),
        ("labels: an id twice, both labels", labels_id_conflicting),
        ("markup in a missing path", markup_in_path),
        ("bracketed text in a path kept", bracketed_path_kept),
        ("markup in an existing path", markup_in_existing_path),
        ("markup in a log line (error message)", markup_in_log_line_error),
        ("markup in a log line (parse table)", markup_in_log_line_parse),
        ("markup in a log line (score table)", markup_in_log_line_score),
    ]
    silent: list[tuple[str, ProbeFn]] = [
        ("numbers with --input raw", numbers_as_raw),
        ("key file vs raw-log artifact", key_file_vs_raw_artifact),
        ("CR-only log", line_endings("cr")),
        ("CRLF log", line_endings("crlf")),
        ("score --threshold nan", nan_threshold_score),
        ("serve --threshold nan", nan_threshold_serve),
    ]
    growth: list[tuple[str, ProbeFn]] = [("many sources", many_sources), ("many sessions", many_sessions)]
    shared = {fn for _, fn in (*matrix, *http, *growth)}  # these use the workspace's servers: one at a time
    out = []
    for category, group in ((SECURITY, sec), (HTTP_500, http), (CLI, cli), (SILENT, silent), (GROWTH, growth)):
        out += [Probe(category, name, fn, parallel=fn not in shared) for name, fn in group]
    return out
