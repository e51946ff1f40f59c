"""A thin wrapper over drain3, built explicitly from :class:`~logbert.config.ParserConfig`.

``drain3.TemplateMiner()`` without a config reads ``drain3.ini`` from the working directory and
only warns when it is missing; here the miner always gets a ``TemplateMinerConfig`` filled from
our config, with no masking of its own (``logbert.parsing.masking`` masks before Drain sees the
text), no persistence and no profiling.

Per-format defaults: ``ParserConfig.drain_sim_th`` and ``drain_depth`` default to None, which
means "the value in :data:`FORMAT_DEFAULTS` for ``ParserConfig.format``". A user who only names a
format gets settings chosen for it; a number in the config always wins.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from typing import Any, Final

from drain3 import TemplateMiner
from drain3.drain import Drain, LogCluster
from drain3.template_miner_config import TemplateMinerConfig

from logbert.config import ParserConfig


@dataclass(frozen=True, slots=True)
class DrainSettings:
    """The effective Drain parameters (config values with per-format defaults filled in)."""

    sim_th: float
    depth: int
    max_children: int
    extra_delimiters: tuple[str, ...]
    #: words (lower case) that are never a parameter (:data:`OUTCOME_WORDS`); () = drain3's rule alone
    outcome_words: frozenset[str] = frozenset()


#: (sim_th, depth) per built-in format, used where the config leaves them None.
#: Drain routes a line through its first ``depth - 3`` tokens before comparing similarity.
#: OpenStack (depth 14): after its masking only constant words remain, and the word that tells
#: events apart often comes late ("Took <*> seconds to spawn|destroy the instance",
#: "pending task (spawning)|(deleting)"), so the first 11 tokens route and Drain's merge step
#: only generalises values. BGL and Thunderbird (depth 5): two routing tokens instead of drain3's
#: one. HDFS and raw keep drain3's defaults.
FORMAT_DEFAULTS: Final[dict[str, tuple[float, int]]] = {
    "openstack": (0.5, 14),
    "openstack_devstack": (0.5, 14),
    "hdfs": (0.5, 4),
    "bgl": (0.5, 5),
    "thunderbird": (0.5, 5),
    "syslog": (0.5, 4),
    "syslog_iso": (0.5, 4),
    "klog": (0.5, 4),
    "apache_error": (0.5, 4),
    "json": (0.5, 4),
    "csv": (0.5, 4),  # a record's message, as JSON's
    "logfmt": (0.5, 4),
    # "METHOD target status": three tokens, two lines differing in one of them are two events (another resource,
    # another outcome), so only lines equal after masking share a template (2 of 3 tokens alike is 0.67)
    "access": (0.9, 4),
    "raw": (0.5, 4),
}


#: Words that say how something ended. Drain turns into a wildcard any position where two messages of a
#: template differ, and with ``sim_th`` 0.5 a two- or three-token message differs in one position only:
#: ``task=<*> received`` and ``task=<*> failed`` become ``task=<*> <*>``, and the failure is invisible to a
#: model of keys. A position where either message holds one of these words (in any case, without the
#: punctuation around it) is never merged, and at inference a wildcard never stands for one, so a failure
#: that training never saw is an unseen template (UNK) instead of a normal one. With each built-in format's
#: own masks no template of ``../shared/datasets`` changes (checked on HDFS 2 %, both OpenStack logs and
#: the loghub 2k sets); with the generic masks it splits a few (``benchmarks/parsing``).
OUTCOME_WORDS: Final[frozenset[str]] = frozenset(
    """
    error errors fail fails failed failing failure failures fatal panic exception exceptions timeout timeouts
    timedout refused denied rejected abort aborted aborting killed crash crashed corrupt corrupted unreachable
    invalid unavailable unable success succeeded successful successfully ok warning warnings critical
    """.split()
)
_PUNCTUATION = string.punctuation


@functools.lru_cache(maxsize=4096)
def _separator(token: str, param_str: str) -> bool:
    """A separator standing alone (``:``, ``-``, ``---``, ``|``): punctuation only, and no wildcard (``<*>:<*>``, a
    masked time, is a value)."""
    return param_str not in token and all(ch in _PUNCTUATION for ch in token)


@functools.lru_cache(maxsize=65_536)
def _holds_a_word(token: str, param_str: str) -> bool:
    """Whether ``token`` has a letter outside its wildcards (``client=unknown[<*>]``: yes; ``<*>:``: no)."""
    return any(ch.isalpha() for ch in token.replace(param_str, ""))


def is_outcome_word(token: str, words: frozenset[str]) -> bool:
    """Whether ``token``, in lower case and without the punctuation around it, is one of ``words``.

    >>> is_outcome_word("FAILED:", OUTCOME_WORDS), is_outcome_word("received", OUTCOME_WORDS)
    (True, False)
    """
    return bool(words) and token.strip(_PUNCTUATION).lower() in words


def drain_settings(config: ParserConfig) -> DrainSettings:
    """Resolve the Drain parameters of ``config`` (None -> the default of its format)."""
    sim_th, depth = FORMAT_DEFAULTS.get(config.format or "raw", FORMAT_DEFAULTS["raw"])
    listed = OUTCOME_WORDS if config.outcome_words is None else config.outcome_words
    return DrainSettings(
        sim_th=config.drain_sim_th if config.drain_sim_th is not None else sim_th,
        depth=config.drain_depth if config.drain_depth is not None else depth,
        max_children=config.drain_max_children,
        extra_delimiters=tuple(config.drain_extra_delimiters),
        outcome_words=frozenset(w.lower() for w in (*listed, *config.extra_outcome_words)),
    )


class MaskedDrain(Drain):  # type: ignore[misc]  # drain3 ships no type hints for Drain
    """drain3's ``Drain`` with three changes for contents that were masked beforehand.

    1. Similarity counts a position where both the template and the message hold the wildcard
       as equal. drain3 skips template wildcards entirely, so a message that is 60 % masked
       values could never reach ``sim_th=0.5`` even against its own identical copy, and every
       repetition of it would open a new cluster.
    2. A message that an existing template of the same length already covers completely (every
       non-wildcard token equal, see :meth:`best_cover`) joins that cluster without changing any
       template. So adding a message a second time never changes the state, which is what lets
       the parser skip repeated masked contents (its cache) and still get exactly the templates
       it gets without the cache.
    3. An outcome word (``outcome_words``, :data:`OUTCOME_WORDS`) is never a parameter: a template
       whose token differs from the message's where either is one has similarity 0 (no merge), and
       a template's wildcard does not cover one, neither here nor in :meth:`best_cover`.
    4. A message merges into a template only if an equal position holds a word (a letter outside the
       wildcards). Change 1 counts equal wildcards, so two-token messages that share only a masked id
       (Postfix's ``<*>: removed`` and ``<*>: client=unknown[<*>]``, the queue id masked) were 50 %
       alike and became one template ``<*>: <*>``: one key for three events.
    5. An equal separator standing alone (``:``, ``-``, ``|``) counts neither as alike nor in the length. A
       Java logger's ``c.e.shop.OrderController : [req=<*>] POST /api/orders customer=<*>`` and ``... : [req=<*>]
       <*> in <*>`` (a request's start and end) were 3 of 6 alike through the logger, the colon and the request
       id, and one template.
    """

    def __init__(self, outcome_words: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outcome_words = outcome_words
        self._by_len: dict[int, list[int]] = {}  # token count -> cluster ids, oldest first

    def get_seq_distance(self, seq1: Any, seq2: Any, include_params: bool) -> tuple[float, int]:
        if not seq1:
            return 1.0, 0
        param_str = self.param_str
        outcome = self.outcome_words
        sim_tokens = 0
        param_count = 0
        shares_a_word = False
        separators = 0  # equal tokens of punctuation alone: not counted at all (change 5)
        for token1, token2 in zip(seq1, seq2, strict=True):
            if token1 == token2:
                if _separator(token1, param_str):
                    separators += 1
                    continue
                sim_tokens += 1
                if token1 == param_str:
                    param_count += 1
                elif not shares_a_word:
                    shares_a_word = _holds_a_word(token1, param_str)
            elif outcome and (is_outcome_word(token1, outcome) or is_outcome_word(token2, outcome)):
                return 0.0, 0  # an outcome word is never a parameter: this template cannot take the message
            elif token1 == param_str:
                param_count += 1
                if include_params:
                    sim_tokens += 1
        if not shares_a_word:  # equal values and punctuation ("<*>:") are no evidence of one event (change 4)
            return 0.0, param_count
        return sim_tokens / (len(seq1) - separators), param_count

    def add_log_message(self, content: str) -> tuple[LogCluster, str]:
        tokens = self.get_content_as_tokens(content)
        cover = self.best_cover(tokens)
        if cover is not None:
            cluster: LogCluster = self.id_to_cluster[cover]
            cluster.size += 1
            return cluster, "none"
        cluster, change = super().add_log_message(content)
        if change == "cluster_created":
            self.index_cluster(cluster)
        return cluster, str(change)

    def index_cluster(self, cluster: LogCluster) -> None:
        """Record a new cluster in the by-length index used by :meth:`best_cover`."""
        self._by_len.setdefault(len(cluster.log_template_tokens), []).append(cluster.cluster_id)

    def best_cover(self, tokens: list[str]) -> int | None:
        """Id of the most specific template that covers ``tokens`` (every non-wildcard token
        equal), fewest wildcards first, then the oldest; None when no template covers them.

        Searches every template of the same length, not only the prefix-tree leaf, so the answer
        depends on the templates alone (not on the order the tree grew in).
        """
        param_str = self.param_str
        outcome = self.outcome_words
        best: int | None = None
        best_params = len(tokens) + 1
        for cluster_id in self._by_len.get(len(tokens), ()):
            template = self.id_to_cluster[cluster_id].log_template_tokens
            n_params = 0
            for t1, t2 in zip(template, tokens, strict=True):
                if t1 == param_str and not (outcome and t2 != param_str and is_outcome_word(t2, outcome)):
                    n_params += 1
                elif t1 != t2:
                    break
            else:
                if n_params < best_params:
                    best, best_params = cluster_id, n_params
        return best


def build_template_miner(settings: DrainSettings) -> TemplateMiner:
    """A drain3 ``TemplateMiner`` configured explicitly (no ini file, masking, persistence),
    whose Drain is a :class:`MaskedDrain` with the same parameters."""
    tmc = TemplateMinerConfig()
    tmc.drain_sim_th = settings.sim_th
    tmc.drain_depth = settings.depth
    tmc.drain_max_children = settings.max_children
    tmc.drain_extra_delimiters = list(settings.extra_delimiters)
    tmc.masking_instructions = []
    tmc.profiling_enabled = False
    miner = TemplateMiner(persistence_handler=None, config=tmc)
    miner.drain = MaskedDrain(
        outcome_words=settings.outcome_words,
        depth=settings.depth,
        sim_th=settings.sim_th,
        max_children=settings.max_children,
        extra_delimiters=list(settings.extra_delimiters),
        param_str=tmc.mask_prefix + "*" + tmc.mask_suffix,
    )
    return miner


class DrainMiner:
    """Online Drain clustering of already-masked contents.

    Cluster ids are 1..K in order of creation, i.e. of first appearance.
    """

    def __init__(self, settings: DrainSettings) -> None:
        self.settings = settings
        self.miner = build_template_miner(settings)
        self._drain: MaskedDrain = self.miner.drain
        self.seed_tokens: list[tuple[str, ...]] = []  # tokens each cluster was created with (its tree path)

    def add(self, masked: str) -> int:
        """Add one masked content; returns its cluster id (1-based)."""
        cluster, change = self._drain.add_log_message(masked)
        if change == "cluster_created":
            self.seed_tokens.append(tuple(cluster.log_template_tokens))
        return int(cluster.cluster_id)

    def match(self, masked: str) -> int | None:
        """Cluster id of the most specific template covering ``masked``; None if none does.
        Changes nothing (frozen inference)."""
        return self._drain.best_cover(self._drain.get_content_as_tokens(masked))

    def templates(self) -> list[tuple[str, ...]]:
        """Template tokens of clusters 1..K (index 0 = cluster 1)."""
        clusters = self._drain.id_to_cluster
        return [tuple(clusters[i].log_template_tokens) for i in range(1, len(clusters) + 1)]

    def sizes(self) -> list[int]:
        clusters = self._drain.id_to_cluster
        return [int(clusters[i].size) for i in range(1, len(clusters) + 1)]

    def state(self) -> dict[str, Any]:
        """JSON-safe state that rebuilds the same prefix tree (see :meth:`from_state`)."""
        return {
            "seed_tokens": [list(t) for t in self.seed_tokens],
            "templates": [list(t) for t in self.templates()],
            "sizes": self.sizes(),
        }

    @classmethod
    def from_state(cls, settings: DrainSettings, state: dict[str, Any]) -> DrainMiner:
        """Rebuild a miner: clusters re-created from their seed tokens in creation order, then
        given their final templates, which reproduces drain3's tree exactly."""
        miner = cls(settings)
        drain = miner._drain
        for cluster_id, (seed, template, size) in enumerate(
            zip(state["seed_tokens"], state["templates"], state["sizes"], strict=True), start=1
        ):
            cluster = LogCluster(list(seed), cluster_id)
            drain.id_to_cluster[cluster_id] = cluster
            drain.add_seq_to_prefix_tree(drain.root_node, cluster)
            drain.index_cluster(cluster)
            cluster.log_template_tokens = tuple(template)
            cluster.size = int(size)
            miner.seed_tokens.append(tuple(seed))
        drain.clusters_counter = len(miner.seed_tokens)
        return miner
