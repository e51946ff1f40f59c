"""LogParser: masked content -> template -> key id, fitted once and frozen for inference.

``fit`` mines templates with Drain (:mod:`logbert.parsing.drain`) over masked contents; key ids
are 0..K-1 in order of first appearance. ``transform`` is frozen: a content maps to the most
specific template that covers it (every non-wildcard token equal), or to ``UNK_KEY`` when none
does; it never creates templates. ``fit_transform(x)`` equals ``fit(x).transform(x)``, so a line
gets the same key in training and at inference.

Per-format defaults: with ``ParserConfig(format="openstack")`` and nothing else, the parser uses
that format's masks (:func:`~logbert.parsing.masking.default_masks`) and Drain settings
(:data:`~logbert.parsing.drain.FORMAT_DEFAULTS`); ``masks``, ``drain_sim_th`` or ``drain_depth``
set in the config win. The effective values are stored in :meth:`LogParser.to_dict`.

Fast path (``ParserConfig.cache_size > 0``): masking rules are compiled once; a masked content
seen before is not offered to Drain again while fitting (adding it again provably changes
nothing, see :class:`~logbert.parsing.drain.MaskedDrain`) and its key is cached for transform;
inputs of at least ``PARALLEL_MIN_LINES`` lines are masked in ``n_jobs`` processes (``n_jobs=0``:
one per idle core, see :func:`auto_workers`). The
keys are identical to the plain path (``cache_size=0, n_jobs=1``); a test checks it.

Streaming (:meth:`LogParser.fit_transform_chunks`): contents that come in chunks (a file read
block by block) are mined without holding them: per line only the number of its masked content
is kept, and the keys are looked up per distinct masked content once the templates are final.
Same keys, templates and state as ``fit_transform`` on all the contents.
"""

from __future__ import annotations

import os
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Final

from logbert.config import MaskRule, ParserConfig
from logbert.errors import InputDataError, NotFittedError
from logbert.parsing.drain import DrainMiner, DrainSettings, drain_settings
from logbert.parsing.masking import Masker, default_masks, kept_words
from logbert.records import UNK_KEY

#: Inputs at least this long are masked in worker processes (below it, start-up costs more).
PARALLEL_MIN_LINES: Final[int] = 200_000
#: Contents that come in chunks are masked in worker processes after this many lines.
PARALLEL_AFTER_LINES: Final[int] = 50_000
_STATE_VERSION: Final[int] = 1


# Set in each worker process by _init_worker: the masker and the whole input. With the "fork" start
# method (Linux) the worker inherits both from the parent's memory, so nothing is pickled on the
# way in; only each worker's masked share is sent back.
_worker_masker: Masker | None = None
_worker_contents: Sequence[str] = ()


def _init_worker(masker: Masker, contents: Sequence[str]) -> None:
    global _worker_masker, _worker_contents
    _worker_masker, _worker_contents = masker, contents


def _mask_range(bounds: tuple[int, int]) -> list[str]:
    assert _worker_masker is not None  # set by _init_worker
    start, stop = bounds
    return _worker_masker.mask_many(_worker_contents[start:stop])


def _mask_chunk(contents: Sequence[str]) -> list[str]:
    assert _worker_masker is not None  # set by _init_worker
    return _worker_masker.mask_many(contents)


def auto_workers() -> int:
    """Processes that ``n_jobs=0`` uses: the usable cores that are idle by the 1-minute load
    average, counting this process's own core; between 1 and the number of usable cores.

    On a shared machine whose cores are all busy, worker processes get no extra CPU time and
    only add start-up and transfer costs (measured on a loaded 2-core VM: 2.0 s instead of 1.7 s
    to mask 222k HDFS lines), so the work stays in this process, as ``make -l`` does.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform
        return cores
    return max(1, min(cores, cores - int(load) + 1))


def mask_all(masker: Masker, contents: Sequence[str], n_jobs: int) -> list[str]:
    """Mask every content, in ``n_jobs`` processes when the input is large (0 = :func:`auto_workers`).

    The calling process masks the first share itself while ``n_jobs - 1`` worker processes mask
    the others. The result is the same list, in the same order, as ``[masker.mask(c) for c in
    contents]``.
    """
    if len(contents) < PARALLEL_MIN_LINES:
        return masker.mask_many(contents)
    workers = n_jobs or auto_workers()
    if workers <= 1:
        return masker.mask_many(contents)
    size = -(-len(contents) // workers)
    bounds = [(i, min(i + size, len(contents))) for i in range(size, len(contents), size)]
    with ProcessPoolExecutor(max_workers=len(bounds), initializer=_init_worker, initargs=(masker, contents)) as pool:
        futures = [pool.submit(_mask_range, b) for b in bounds]
        out = masker.mask_many(contents[:size])
        for future in futures:
            out.extend(future.result())
    return out


class LogParser:
    """Mine templates from line contents and map contents to key ids.

    Args:
        config: masking and Drain settings; None = ``ParserConfig()``.

    Attributes (set by ``fit``):
        templates_: template of each key id (index = key id), wildcards as ``<*>``.
        n_unknown_: contents ``transform`` mapped to ``UNK_KEY`` since the last ``fit``.

    Example:
        >>> p = LogParser(ParserConfig(format="openstack"))
        >>> p.fit_transform(["[instance: 1] VM Started (Lifecycle Event)", "[instance: 2] VM Paused (Lifecycle Event)",
        ...                  "[instance: 3] VM Started (Lifecycle Event)"])
        [0, 1, 0]
        >>> p.transform(["something new"]), p.n_unknown_
        ([-1], 1)
    """

    def __init__(self, config: ParserConfig | None = None, masks: Sequence[MaskRule] | None = None) -> None:
        self.config = config if config is not None else ParserConfig()
        # the rules to mask with when not ``config``'s own (the session-id rule in front of them, see
        # logbert.pipeline.parse.template_parser); a saved parser keeps the rules it was fitted with
        self._masks = None if masks is None else tuple(masks)

    # ----------------------------------------------------------------- fitting
    def fit(self, contents: Iterable[str]) -> LogParser:
        """Mine templates from ``contents`` (line contents, header already removed).

        Raises:
            InputDataError: ``contents`` is empty.
        """
        self._fit_masked(self._mask_many(contents))
        return self

    def fit_transform(self, contents: Iterable[str]) -> list[int]:
        """``fit(contents).transform(contents)``, masking each content only once."""
        masked = self._mask_many(contents)
        self._fit_masked(masked)
        return self._keys_of_masked(masked)

    def fit_transform_chunks(self, chunks: Iterable[Sequence[str]]) -> array[int]:
        """:meth:`fit_transform` of contents that come in chunks, e.g. the blocks of
        :meth:`LogStream.contents() <logbert.parsing.reader.LogStream.contents>`, holding one
        chunk at a time: the keys (as an ``array`` of ``int``), templates, state and
        ``n_unknown_`` are those of ``fit_transform`` on all the contents (a test checks it).

        Memory: 4 bytes a line, and each distinct masked content once; nothing per line is kept
        while the templates are mined, because a line's key depends on the final templates:
        each line keeps the index of its masked content, and the keys of the distinct masked
        contents are looked up once at the end.

        Raises:
            InputDataError: no content at all.
        """
        self._prepare(self.config)
        miner = DrainMiner(self.settings_)
        add = miner.add
        index: dict[str, int] = {}  # masked content -> its number, in order of first appearance
        uids = array("i")
        cached = self.config.cache_size  # the first `cached` distinct contents are Drain-added once
        for masked in self._masked_chunks(chunks):
            new = [m for m in dict.fromkeys(masked) if m not in index]
            if len(index) + len(new) <= cached:
                # The fast path's rule: a masked content seen before is not offered again; the
                # new ones go to Drain in order of first appearance.
                for m in new:
                    index[m] = len(index)
                    add(m)
                uids.extend(map(index.__getitem__, masked))
                continue
            for m in masked:  # beyond the cache (or no cache): what _fit_masked does, line by line
                uid = index.get(m)
                if uid is None:
                    uid = index[m] = len(index)
                    add(m)
                elif uid >= cached:
                    add(m)
                uids.append(uid)
        if not uids:
            raise InputDataError("cannot fit a parser on no lines")
        self._set_miner(miner)
        key_of = [self._key_of_masked(m) for m in index]  # fills the cache as _keys_of_masked does
        del index
        self.n_unknown_ = 0
        if UNK_KEY in key_of:
            unknown = {uid for uid, key in enumerate(key_of) if key == UNK_KEY}
            self.n_unknown_ = sum(1 for uid in uids if uid in unknown)
        return array("i", map(key_of.__getitem__, uids))

    def _masked_chunks(self, chunks: Iterable[Sequence[str]]) -> Iterator[list[str]]:
        """Each chunk masked, in order. After the first ``PARALLEL_AFTER_LINES`` lines, with
        ``n_jobs`` > 1 (0: :func:`auto_workers`), the chunks are masked in ``n_jobs - 1`` worker
        processes while this one reads the next chunks and mines the templates; a few chunks are
        in flight at a time."""
        mask_many = self._masker.mask_many
        chunks = iter(chunks)
        n_lines = 0
        for chunk in chunks:
            yield mask_many(chunk)
            n_lines += len(chunk)
            if n_lines >= PARALLEL_AFTER_LINES:
                break
        else:
            return
        workers = (self.config.n_jobs or auto_workers()) - 1
        if workers < 1:
            for chunk in chunks:
                yield mask_many(chunk)
            return
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(self._masker, ())) as pool:
            pending: deque[Future[list[str]]] = deque()
            for chunk in chunks:
                pending.append(pool.submit(_mask_chunk, chunk))
                if len(pending) > 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _mask_many(self, contents: Iterable[str]) -> list[str]:
        self._prepare(self.config)
        items = contents if isinstance(contents, Sequence) else list(contents)
        return mask_all(self._masker, items, self.config.n_jobs)

    def _prepare(self, config: ParserConfig) -> None:
        self.settings_: DrainSettings = drain_settings(config)
        self.masks_: tuple[MaskRule, ...] = (
            self._masks
            if self._masks is not None
            else config.masks
            if config.masks is not None
            else default_masks(config.format)
        )
        self._masker = Masker(self.masks_, kept_words(self.settings_.outcome_words))

    def _fit_masked(self, masked: Sequence[str]) -> None:
        if not masked:
            raise InputDataError("cannot fit a parser on no lines")
        miner = DrainMiner(self.settings_)
        if self.config.cache_size > 0:
            seen: set[str] = set()
            for m in masked:
                if m in seen:
                    continue  # re-adding an identical masked content is a no-op in MaskedDrain
                if len(seen) < self.config.cache_size:
                    seen.add(m)
                miner.add(m)
        else:
            for m in masked:
                miner.add(m)
        self._set_miner(miner)

    def _set_miner(self, miner: DrainMiner) -> None:
        self._miner = miner
        self.templates_: list[str] = [" ".join(t) for t in miner.templates()]
        self.n_unknown_ = 0
        self._cache: dict[str, int] = {}

    # --------------------------------------------------------------- inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "_miner"):
            raise NotFittedError("LogParser is not fitted: call fit() or LogParser.from_dict() first")

    def transform(self, contents: Iterable[str]) -> list[int]:
        """Key id of each content (frozen: unseen template -> ``UNK_KEY``, counted in ``n_unknown_``).

        Raises:
            NotFittedError: before ``fit``.
        """
        self._check_fitted()
        items = contents if isinstance(contents, Sequence) else list(contents)
        if len(items) >= PARALLEL_MIN_LINES:
            return self._keys_of_masked(mask_all(self._masker, items, self.config.n_jobs))
        return [self.transform_one(c) for c in items]

    def transform_one(self, content: str) -> int:
        """Key id of one content; the cheap per-line form for streaming.

        Raises:
            NotFittedError: before ``fit``.
        """
        self._check_fitted()
        return self._key_of_masked(self._masker.mask(content))

    def parameters(self, content: str, key_id: int) -> list[str]:
        """The values at the wildcards of the line's template, in their original text.

        A value a mask replaced comes back whole (``"19.84"``, ``"[instance: b900…]"``); a token Drain
        generalised is returned as written. Empty for an unseen template (``UNK_KEY``) or when the
        tokens do not line up with the template.
        """
        self._check_fitted()
        if key_id == UNK_KEY or not 0 <= key_id < len(self.templates_):
            return []
        tokens = self._masker.mask_tokens(content, self.settings_.extra_delimiters)
        template = self.templates_[key_id].split()
        if tokens is None or len(tokens[0]) != len(template):
            return []
        pairs = zip(template, tokens[1], strict=True)
        return [_value(wildcard, original) for wildcard, original in pairs if "<*>" in wildcard]

    def _keys_of_masked(self, masked: Iterable[str]) -> list[int]:
        """``[self._key_of_masked(m) for m in masked]`` with the cache hit inlined."""
        get = self._cache.get
        keys: list[int] = []
        append = keys.append
        n_unknown_hits = 0
        for m in masked:
            key = get(m)
            if key is None:
                key = self._key_of_masked(m)
            elif key == UNK_KEY:
                n_unknown_hits += 1
            append(key)
        self.n_unknown_ += n_unknown_hits
        return keys

    def _key_of_masked(self, masked: str) -> int:
        cache = self._cache
        key = cache.get(masked)
        if key is None:
            cluster_id = self._miner.match(masked)
            key = UNK_KEY if cluster_id is None else cluster_id - 1
            if len(cache) < self.config.cache_size:
                cache[masked] = key
        if key == UNK_KEY:
            self.n_unknown_ += 1
        return key

    def mask(self, content: str) -> str:
        """The masked content Drain sees (for inspection and debugging)."""
        self._check_fitted()
        return self._masker.mask(content)

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state; :meth:`from_dict` restores a parser with identical ``transform``.

        Raises:
            NotFittedError: before ``fit``.
        """
        self._check_fitted()
        return {
            "version": _STATE_VERSION,
            "config": self.config.model_dump(mode="json"),
            "masks": [rule.model_dump(mode="json") for rule in self.masks_],
            "drain": {
                "sim_th": self.settings_.sim_th,
                "depth": self.settings_.depth,
                "max_children": self.settings_.max_children,
                "extra_delimiters": list(self.settings_.extra_delimiters),
                "outcome_words": sorted(self.settings_.outcome_words),
            },
            "clusters": self._miner.state(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> LogParser:
        """Rebuild a fitted parser from :meth:`to_dict` output.

        Raises:
            InputDataError: the state is not a parser state of a known version.
        """
        try:
            if state.get("version") != _STATE_VERSION:
                raise InputDataError(f"unsupported parser state version {state.get('version')!r}")
            config = ParserConfig.model_validate(state["config"])
            masks = tuple(MaskRule.model_validate(m) for m in state["masks"])
            d = state["drain"]
            settings = DrainSettings(
                sim_th=float(d["sim_th"]),
                depth=int(d["depth"]),
                max_children=int(d["max_children"]),
                extra_delimiters=tuple(d["extra_delimiters"]),
                # a state saved before the rule: its templates were mined without it, and match as they did
                outcome_words=frozenset(str(w) for w in d.get("outcome_words", ())),
            )
            miner = DrainMiner.from_state(settings, state["clusters"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputDataError):
                raise
            raise InputDataError(f"invalid parser state: {exc!r}") from None
        parser = cls(config, masks)
        parser.settings_ = settings
        parser.masks_ = masks
        parser._masker = Masker(masks, kept_words(settings.outcome_words))
        parser._set_miner(miner)
        return parser


def _value(wildcard: str, original: str) -> str:
    """The part of ``original`` at a template token's one ``<*>`` (``HTTP/<*>"`` + ``HTTP/1.1"`` -> ``1.1``)."""
    if wildcard.count("<*>") != 1:
        return original
    prefix, _, suffix = wildcard.partition("<*>")
    if original.startswith(prefix) and original.endswith(suffix) and len(original) >= len(prefix) + len(suffix):
        return original[len(prefix) : len(original) - len(suffix)].strip()
    return original
