"""The queue's pieces on their own: partitioning, the per-partition scorer, fencing, the producer's counts."""

from __future__ import annotations

import asyncio
import re

import pytest

from logbert.queue.group import assignment
from logbert.queue.partitions import Partitioner, decode_lines, encode_lines, partition_of
from logbert.queue.replica import PartitionScorer, ScorerLocks

from ..streaming.fakes import FakeDetector
from .conftest import NatsServer, unique


def test_partitions_are_stable_across_processes_and_spread() -> None:
    assert partition_of("blk_-1608999687919862906", 12) == 11  # CRC-32: the same on every machine
    counts = [0] * 6
    for i in range(6000):
        counts[partition_of(f"vm-{i}", 6)] += 1
    assert min(counts) > 800


def test_a_line_naming_two_sessions_goes_to_both_partitions_and_each_keeps_its_own() -> None:
    n = 8
    a, b = next(
        (f"vm-{i}", f"vm-{j}")
        for i in range(50)
        for j in range(50)
        if partition_of(f"vm-{i}", n) != partition_of(f"vm-{j}", n)
    )
    part = Partitioner(n, re.compile(r"(vm-\d+)"))
    targets, n_ids = part.partitions(f"k1 from {a} to {b}", "src")
    assert n_ids == 2 and set(targets) == {partition_of(a, n), partition_of(b, n)}
    assert part.partitions("k1 no session here", "src") == ((partition_of("src", n),), 0)
    detector = FakeDetector()
    for sid in (a, b):
        scorer = PartitionScorer(detector, partition_of(sid, n), n, ScorerLocks())
        [parsed], _ = scorer.parse_lines([f"k1 from {a} to {b}"])
        assert not isinstance(parsed, str) and parsed.session_ids == (sid,)


def test_lines_survive_the_wire() -> None:
    lines = [b"a", b"", b"\xff\xfe binary", b"last"]
    assert decode_lines(encode_lines(lines), 4) == lines
    assert decode_lines(encode_lines([b""]), 1) == [b""]
    with pytest.raises(ValueError):
        decode_lines(b"a\nb", 3)


def test_assignment_is_balanced_and_the_same_for_everyone() -> None:
    got = assignment(["member.r2", "member.r1", "member.r3"], 7)
    assert got == assignment(["member.r3", "member.r1", "member.r2"], 7)
    owned = [list(got.values()).count(m) for m in ("member.r1", "member.r2", "member.r3")]
    assert sorted(owned) == [2, 2, 3]
    assert assignment([], 4) == {}


def test_a_stale_owner_is_fenced(pg_url: str) -> None:
    from logbert.queue.checkpoints import CheckpointStore, Fenced

    store = CheckpointStore(pg_url, "S")
    assert store.claim(0, epoch=5, owner="old") is None
    store.save(0, 5, {"next_seq": 10, "outstanding": [], "router": {"buffers": [{"key": "x"}]}})
    assert store.claim(0, epoch=9, owner="new") == {
        "next_seq": 10,
        "outstanding": [],
        "router": {"buffers": [{"key": "x"}]},
    }
    with pytest.raises(Fenced):
        store.save(0, 5, {"next_seq": 12, "outstanding": []})  # the old owner wakes up: refused
    with pytest.raises(Fenced):
        store.claim(0, epoch=7, owner="older")
    assert store.positions() == {0: (10, 0, 1)}
    store.close()


def test_each_consumer_group_has_positions_of_its_own(pg_url: str) -> None:
    """A second group on the same stream and database took the first one's positions (it skipped every line) and
    fought its epochs ("held with a newer epoch") twice a second; the default group's rows keep the bare stream name."""
    from logbert.queue.checkpoints import CheckpointStore

    first, second = CheckpointStore(pg_url, "G"), CheckpointStore(pg_url, "G", group="second")
    assert first.claim(0, epoch=50, owner="a") is None
    first.save(0, 50, {"next_seq": 258, "outstanding": []})
    assert second.claim(0, epoch=3, owner="s1") is None  # its own row: from the start, no newer epoch to fight
    assert second.positions() == {0: (0, 0, 0)} and first.positions() == {0: (258, 0, 0)}
    assert CheckpointStore(pg_url, "G", group="logbert").positions() == {0: (258, 0, 0)}  # the default group
    first.close()
    second.close()


def test_ship_counts_every_line_and_loses_none(nats_server: NatsServer) -> None:
    from logbert.queue.broker import connect
    from logbert.queue.ship import ShipOptions, ship

    lines = [b"k1 vm-1 start", b"", b"k2 vm-2 \xff", b"k3 nobody", b"k4 vm-1 and vm-2", b"k5 vm-1 end"]
    stream, prefix = unique("S"), unique("p") + ".lines"
    options = ShipOptions(nats_url=nats_server.url, stream=stream, subject_prefix=prefix, partitions=4,
                          source="t", batch_lines=2, end_sessions=True)  # fmt: skip
    report = asyncio.run(ship(iter(lines), options, re.compile(r"(vm-\d+)")))
    assert (report.lines, report.empty, report.not_utf8, report.without_session) == (6, 1, 1, 2)
    two = partition_of("vm-1", 4) != partition_of("vm-2", 4)
    assert report.multi_partition == int(two) and report.shipped == 6 + int(two)

    async def read_back() -> list[bytes]:
        nc = await connect(nats_server.url)
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"{prefix}.*", durable=None, stream=stream)
        msgs = await sub.fetch(100, timeout=2)
        await nc.close()
        got = []
        for m in msgs:
            if m.headers.get("logbert-control") is None:
                got += decode_lines(m.data, int(m.headers["logbert-lines"]))
        return got

    got = asyncio.run(read_back())
    assert sorted(got) == sorted(lines + ([b"k4 vm-1 and vm-2"] if two else []))


def test_an_unreachable_or_wrong_nats_url_is_said_in_lines_not_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """An http:// URL waited 20 s; an unreachable server printed nats-py's traceback for every attempt."""
    import logging

    from logbert.queue.broker import QueueError, connect

    with pytest.raises(QueueError, match="is not a NATS URL"):
        asyncio.run(connect("http://127.0.0.1:4222"))
    with caplog.at_level(logging.WARNING), pytest.raises(QueueError, match="cannot connect to NATS"):
        asyncio.run(connect("nats://127.0.0.1:1", timeout=2))
    assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_a_container_runtimes_lines_are_routed_by_the_apps_message_and_a_split_line_as_one() -> None:
    """With ``parser.envelope``: a docker line holds the message JSON-escaped, and the session regex read the escapes
    into the id (``req-7\\n","stream":...``, a new id for every line: a session's lines spread over the replicas); a
    split line's first piece may not hold the id, and went to another partition than the piece that ends it (the
    replica joins the pieces)."""
    import json

    from logbert.queue.partitions import MAX_HELD_PIECES, routed_together

    def docker(message: str, stream: str = "stdout", t: int = 0) -> str:
        return json.dumps({"log": message, "stream": stream, "time": f"2026-12-02T04:00:{t:02d}Z"})

    texts = [
        docker("level=info request_id=req-7\n", t=1),
        docker("level=info msg=\"a long line that was "),  # split: no id in its first piece
        docker("level=warn request_id=req-8\n", stream="stderr", t=2),  # another stream between the pieces
        docker("cut\" request_id=req-7\n", t=3),
        "not a docker line request_id=req-9",
    ]
    groups = list(routed_together([(t.encode(), t) for t in texts], "docker"))
    assert [len(raws) for raws, _ in groups] == [1, 1, 2, 1]
    part = Partitioner(8, re.compile(r"request_id=(\S+)"))
    ids = [part.pattern.findall(text) for _, text in groups]  # type: ignore[union-attr]
    assert ids == [["req-7"], ["req-8"], ["req-7"], ["req-9"]]
    assert part.pattern.findall(texts[0]) == ['req-7\\n",']  # type: ignore[union-attr]  # the raw line: escapes read
    # without an envelope every line goes alone, by its own text; a split line that never ends is bounded
    assert [len(r) for r, _ in routed_together([(t.encode(), t) for t in texts], "none")] == [1] * 5
    endless = [docker(f"piece {i} ") for i in range(MAX_HELD_PIECES + 3)]
    assert [len(r) for r, _ in routed_together([(t.encode(), t) for t in endless], "docker")] == [MAX_HELD_PIECES, 3]


def test_ship_sends_a_split_lines_pieces_where_the_piece_that_ends_it_goes(nats_server: NatsServer) -> None:
    from logbert.queue.broker import connect
    from logbert.queue.ship import ShipOptions, ship

    lines = [b"2026-12-02T04:00:00Z stdout P msg=\"long ", b"2026-12-02T04:00:01Z stdout F line\" req=vm-1"]
    lines += [b"2026-12-02T04:00:02Z stdout F msg=k%d req=vm-%d" % (i, i) for i in range(2, 9)]
    stream, prefix = unique("S"), unique("p") + ".lines"
    from logbert.config import ParserConfig

    options = ShipOptions(nats_url=nats_server.url, stream=stream, subject_prefix=prefix, partitions=8,
                          source="pod", batch_lines=50, envelope="cri",
                          parser=ParserConfig(envelope="cri", format="logfmt"))  # fmt: skip
    report = asyncio.run(ship(iter(lines), options, re.compile(r"req=(vm-\d+)")))
    assert (report.lines, report.shipped, report.without_session) == (9, 9, 0)

    async def read_back() -> dict[str, list[bytes]]:
        nc = await connect(nats_server.url)
        sub = await nc.jetstream().pull_subscribe(f"{prefix}.*", durable=None, stream=stream)
        msgs = await sub.fetch(100, timeout=2)
        await nc.close()
        return {m.subject: decode_lines(m.data, int(m.headers["logbert-lines"])) for m in msgs}

    got = asyncio.run(read_back())
    (home,) = [subj for subj, batch in got.items() if lines[1] in batch]
    assert got[home][:2] == lines[:2]  # the piece before the one that ends it, in order, on vm-1's partition
    assert home == f"{prefix}.{partition_of('vm-1', 8)}"


def test_a_producer_reads_a_lines_session_id_where_the_replica_reads_it() -> None:
    """The engine finds a session id in a line as its format reads it (header fields as name=value, then the
    content); the producer read the raw line, where a JSON record's "request_id": "r-7" or a layout's <request_id>
    field is not "request_id=r-7": every such line went by its source, all to one partition."""
    from logbert.config import ParserConfig
    from logbert.queue.partitions import session_text_reader

    pattern = re.compile(r"request_id=(\S+)")
    cases = [
        (ParserConfig(format="json"), '{"ts": "2026-12-02T04:00:00Z", "msg": "paid", "request_id": "r-7"}'),
        (ParserConfig(format="raw", log_format="<Date> <Time> <request_id> <Content>"), "2026-12-02 04:00:00 r-7 paid"),
        (ParserConfig(format="logfmt"), 'time=2026-12-02T04:00:00Z msg="paid" request_id=r-7'),
    ]
    for parser, line in cases:
        assert pattern.findall(session_text_reader(parser)(line)) == ["r-7"], parser
    assert pattern.findall(cases[0][1]) == pattern.findall(cases[1][1]) == []  # the raw lines: no id
