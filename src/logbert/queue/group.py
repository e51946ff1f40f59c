"""The consumer group: which replica owns which partition, by leases in a JetStream KV bucket.

The bucket ``logbert-group-<group>`` has a TTL (``lease_ttl_s``): a key not written again within
it disappears. Two kinds of keys:

* ``member.<replica>``: each live replica writes its own every ``lease_ttl_s / 3``.
* ``lease.<partition>``: created (``create`` = only if absent) by the replica that takes the
  partition, renewed with a compare-and-set on its revision, deleted on a graceful release.

Assignment is computed by every replica from the live members alone: sorted by id, partition
``p`` belongs to member ``p mod n``. A replica releases (checkpoint first, then delete the lease)
what it owns but is no longer assigned, and tries to create the leases of what it is assigned.
When a replica joins, the others release its share; when one leaves, it releases its own; when
one dies (SIGKILL), its member key and leases expire after ``lease_ttl_s`` and the others take
its partitions over. The lease's creation revision is the owner's *epoch*: it grows with every
takeover and fences a stale owner's commits (see :mod:`logbert.queue.checkpoints`).
"""

from __future__ import annotations

import re
from typing import Any

_KEY_CHARS = re.compile(r"[^-/_=.a-zA-Z0-9]")


def bucket_name(group: str) -> str:
    return f"logbert-group-{_KEY_CHARS.sub('_', group).replace('.', '_')}"


def member_key(replica_id: str) -> str:
    return f"member.{_KEY_CHARS.sub('_', replica_id)}"


def lease_key(partition: int) -> str:
    return f"lease.{partition}"


def assignment(members: list[str], n_partitions: int) -> dict[int, str]:
    """Partition -> member: member ``p mod n`` of the sorted live members (empty with no member)."""
    ordered = sorted(members)
    if not ordered:
        return {}
    return {p: ordered[p % len(ordered)] for p in range(n_partitions)}


class Group:
    """One replica's view of the group's KV bucket (asyncio, nats-py)."""

    def __init__(self, kv: Any, replica_id: str) -> None:
        self.kv = kv
        self.replica_id = replica_id
        self.me = member_key(replica_id)

    async def heartbeat(self) -> None:
        await self.kv.put(self.me, self.replica_id.encode())

    async def leave(self) -> None:
        await self.kv.delete(self.me)

    async def members(self) -> list[str]:
        """The live members' keys (read without a consumer: a KV ``keys()`` makes one per call)."""
        import nats.js.errors

        js, bucket = self.kv._js, self.kv._name
        info = await js.stream_info(f"KV_{bucket}", subjects_filter=f"$KV.{bucket}.member.>")
        found = []
        for subj in (info.state.subjects or {}).keys():
            key = subj[len(f"$KV.{bucket}.") :]
            try:
                await self.kv.get(key)
            except (nats.js.errors.KeyDeletedError, nats.js.errors.KeyNotFoundError):
                continue  # left (a delete marker) or expired meanwhile
            found.append(key)
        return found

    async def assigned(self, n_partitions: int) -> set[int]:
        """The partitions this replica should own now."""
        members = await self.members()
        if self.me not in members:
            members.append(self.me)
        return {p for p, m in assignment(members, n_partitions).items() if m == self.me}

    async def acquire(self, partition: int) -> int | None:
        """Create the partition's lease; its revision (the epoch), or None when someone holds it."""
        import nats.js.errors

        try:
            revision: int = await self.kv.create(lease_key(partition), self.replica_id.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        return revision

    async def renew(self, partition: int, revision: int) -> int | None:
        """Write the lease again if it is still ours; its new revision, or None when it was lost."""
        import nats.js.errors

        try:
            new: int = await self.kv.update(lease_key(partition), self.replica_id.encode(), last=revision)
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            return None
        return new

    async def release(self, partition: int, revision: int) -> None:
        """Delete the lease if it is still ours (a compare-and-delete)."""
        import nats.js.errors

        try:
            await self.kv.delete(lease_key(partition), last=revision)
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            pass
