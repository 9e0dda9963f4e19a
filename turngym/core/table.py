"""``TurnTable``: the columnar view of a batch of episodes that every estimator consumes.

Estimators are pure functions over equal-length numpy columns (one row per turn), so they can be
vectorised with sorting/bincount/unique and tested on hand-written tables without building
``Episode`` objects. ``from_episodes`` builds the table from the record and remembers where each
row came from, so ``write_back`` can put advantages back on the turns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from turngym.core.episode import Episode

REQUIRED_COLUMNS = ("group", "traj", "turn", "reward", "final", "valid", "anchor")
OPTIONAL_COLUMNS = ("info_gain", "entropy", "step_reward", "tool_match_reward", "outcome")
#: Optional non-numeric columns: ``agent`` (the acting agent of multi-agent episodes).
KEY_COLUMNS = ("agent",)
_INT_COLUMNS = ("group", "traj", "turn")
_BOOL_COLUMNS = ("final", "valid")


def factorize(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Map hashable values to dense int codes in order of first appearance.

    One ``dict.setdefault`` pass at C speed (no Python-level generator): each row gets the index
    of the first row holding its value, then those are made dense with a cumulative sum.
    """
    n = len(values)
    seen: dict[Any, int] = {}
    first_row = np.fromiter(map(seen.setdefault, values, range(n)), dtype=np.int64, count=n)
    dense = np.cumsum(first_row == np.arange(n)) - 1
    return dense[first_row]


def trajectory_keys(group: np.ndarray, traj: np.ndarray) -> np.ndarray:
    """Int64 keys equal exactly when ``(group, traj)`` is equal (see :attr:`TurnTable.traj_key`)."""
    n = len(traj)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    t_lo, t_hi = int(traj.min()), int(traj.max())
    g_lo, g_hi = int(group.min()), int(group.max())
    if t_lo >= 0 and t_hi < 4 * n + 1024:
        owner = np.empty(t_hi + 1, dtype=np.int64)
        owner[traj] = group  # any row of a traj value as its owner
        if np.array_equal(owner[traj], group):
            return traj
    t_span = t_hi - t_lo + 1
    if (g_hi - g_lo + 1) < (1 << 62) // t_span:
        return (group - g_lo) * t_span + (traj - t_lo)
    pairs = np.stack([group, traj], axis=1)
    _, inv = np.unique(pairs, axis=0, return_inverse=True)
    return inv.reshape(-1).astype(np.int64)


class TurnTable:
    """Equal-length columns, one row per turn.

    Required: ``group`` (task group), ``traj`` (trajectory id; a trajectory is the pair
    ``(group, traj)``, so ``traj`` may restart at 0 in every group, as the official codes' tables
    do), ``turn`` (index inside the trajectory), ``reward`` (env reward of the turn), ``final`` (last
    turn of its trajectory), ``valid`` (the action parsed and was admissible), ``anchor`` (state key
    for GiGPO-style grouping). ``final``/``valid``/``anchor`` may be omitted: ``final`` is then
    derived from ``traj``/``turn``, ``valid`` is all true, and each row is its own anchor.
    Optional algorithm inputs: ``info_gain``, ``entropy``, ``step_reward``,
    ``tool_match_reward``, ``outcome`` (trajectory outcome, repeated on each of its rows), and
    ``agent`` (hashable id of the acting agent, multi-agent episodes; ``per_agent`` estimators
    group by it).
    """

    def __init__(
        self,
        *,
        group: Sequence[int] | np.ndarray,
        traj: Sequence[int] | np.ndarray,
        turn: Sequence[int] | np.ndarray,
        reward: Sequence[float] | np.ndarray,
        final: Sequence[bool] | np.ndarray | None = None,
        valid: Sequence[bool] | np.ndarray | None = None,
        anchor: Sequence[Any] | np.ndarray | None = None,
        info_gain: Sequence[float] | np.ndarray | None = None,
        entropy: Sequence[float] | np.ndarray | None = None,
        step_reward: Sequence[float] | np.ndarray | None = None,
        tool_match_reward: Sequence[float] | np.ndarray | None = None,
        outcome: Sequence[float] | np.ndarray | None = None,
        agent: Sequence[Any] | np.ndarray | None = None,
    ) -> None:
        self.group = np.asarray(group, dtype=np.int64)
        n = len(self.group)
        self.traj = self._column("traj", traj, np.int64, n)
        self.turn = self._column("turn", turn, np.int64, n)
        self.reward = self._column("reward", reward, np.float64, n)
        if final is None:
            final = self._derive_final()
        self.final = self._column("final", final, np.bool_, n)
        self.valid = self._column("valid", np.ones(n, bool) if valid is None else valid, np.bool_, n)
        if anchor is None:
            anchor = [("__row__", i) for i in range(n)]
        self.anchor = self._column("anchor", anchor, object, n)
        self.info_gain = self._optional("info_gain", info_gain, n)
        self.entropy = self._optional("entropy", entropy, n)
        self.step_reward = self._optional("step_reward", step_reward, n)
        self.tool_match_reward = self._optional("tool_match_reward", tool_match_reward, n)
        self.outcome = self._optional("outcome", outcome, n)
        self.agent = None if agent is None else self._column("agent", agent, object, n)
        #: (episode index, turn index) of each row when built by ``from_episodes``.
        self.source: np.ndarray | None = None

    # -- construction ------------------------------------------------------------------------
    @staticmethod
    def _column(name: str, values: Any, dtype: Any, n: int) -> np.ndarray:
        if dtype is object:
            arr = np.empty(len(values), dtype=object)
            arr[:] = list(values)
        else:
            arr = np.asarray(values, dtype=dtype)
        if arr.ndim != 1 or len(arr) != n:
            raise ValueError(f"TurnTable column {name!r} has length {len(arr)}, expected {n} (one value per row)")
        return arr

    def _optional(self, name: str, values: Any, n: int) -> np.ndarray | None:
        return None if values is None else self._column(name, values, np.float64, n)

    def _derive_final(self) -> np.ndarray:
        final = np.zeros(len(self.traj), dtype=bool)
        if len(self.traj):
            order = np.lexsort((self.turn, self.traj))
            last = np.r_[self.traj[order][1:] != self.traj[order][:-1], True]
            final[order[last]] = True
        return final

    @classmethod
    def from_episodes(cls, episodes: Sequence[Episode], *, anchor_fallback: str = "observation") -> TurnTable:
        """Flatten episodes into rows; episodes without a ``group_id`` form groups of one.

        ``anchor_fallback`` names the turn field used when an env gave no ``anchor``. A group
        known to be partial (fewer episodes than the ``meta["group_size"]`` the rollout engine
        records, as a store left by a killed rollout can hold: episodes are written atomically,
        groups are not) gets no rows: its group statistics would be wrong, so estimators skip it
        and its turns keep ``advantage=None``.
        """
        episodes = list(episodes)
        partial = partial_groups(episodes)
        if partial:
            logger.warning("skipping %d partial group(s) (fewer episodes than their group_size): %s", len(partial), sorted(partial)[:3])
        group_keys: list[Any] = []
        traj, turn, reward, final, valid, anchor, source = [], [], [], [], [], [], []
        outcome: list[float] = []
        agents: list[Any] = []
        optional: dict[str, list[float | None]] = {"info_gain": [], "entropy": [], "step_reward": []}
        anchor_ids: dict[Any, int] = {}
        anchor_codes: list[int] = []
        for e_idx, ep in enumerate(episodes):
            if ep.group_id in partial:
                continue
            key = ep.group_id if ep.group_id is not None else ("__episode__", ep.episode_id)
            last = len(ep.turns) - 1
            for t_idx, t in enumerate(ep.turns):
                group_keys.append(key)
                traj.append(e_idx)
                turn.append(t.index)
                reward.append(t.reward)
                final.append(t_idx == last)
                valid.append(t.action_valid)
                a = t.anchor if t.anchor is not None else getattr(t, anchor_fallback)
                anchor.append(a)
                # Coded here, in the loop we pay anyway, so estimators never re-hash the strings.
                anchor_codes.append(anchor_ids.setdefault(a, len(anchor_ids)))
                outcome.append(ep.outcome_reward)
                agents.append(t.agent)
                source.append((e_idx, t_idx))
                for name, col in optional.items():
                    col.append(getattr(t, name))
        table = cls(
            group=factorize(group_keys),
            traj=traj,
            turn=turn,
            reward=reward,
            final=final,
            valid=valid,
            anchor=anchor,
            outcome=outcome,
            agent=agents if any(a is not None for a in agents) else None,
            **{
                name: (np.array([np.nan if v is None else v for v in col], dtype=np.float64) if any(v is not None for v in col) else None)
                for name, col in optional.items()
            },
        )
        table.source = np.asarray(source, dtype=np.int64).reshape(-1, 2)
        table._anchor_codes = (table.anchor, np.asarray(anchor_codes, dtype=np.int64))
        return table

    # -- access ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.group)

    def column(self, name: str) -> np.ndarray:
        """A column by name, with a clear error when an estimator needs a missing optional one."""
        value = getattr(self, name, None)
        if value is None:
            raise KeyError(
                f"TurnTable has no {name!r} column; this estimator needs it "
                f"(columns present: {', '.join(self.columns)})"
            )
        return value

    @property
    def anchor_codes(self) -> np.ndarray:
        """Dense int codes of ``anchor`` (equal anchors share a code), computed once and cached.

        Hashing a million anchor strings is the one per-row Python pass of anchor grouping; caching
        it on the table lets estimators stay pure numpy. The cache follows the ``anchor`` array
        object: assign a new array to change anchors rather than editing it in place.
        """
        cached = getattr(self, "_anchor_codes", None)
        if cached is None or cached[0] is not self.anchor:
            cached = (self.anchor, factorize(self.anchor.tolist()))
            self._anchor_codes = cached
        return cached[1]

    @property
    def traj_key(self) -> np.ndarray:
        """One int per row identifying its trajectory, the pair ``(group, traj)``, cached.

        When every ``traj`` value already belongs to a single group (tables built by
        :meth:`from_episodes`), the ``traj`` column itself is the key; otherwise the pair is packed
        group-major, so a table sorted by ``(group, traj, turn)`` stays sorted by ``(key, turn)``.
        """
        cached = getattr(self, "_traj_key", None)
        if cached is None or cached[0] is not self.traj or cached[1] is not self.group:
            cached = (self.traj, self.group, trajectory_keys(self.group, self.traj))
            self._traj_key = cached
        return cached[2]

    @property
    def columns(self) -> list[str]:
        return [c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS + KEY_COLUMNS if getattr(self, c, None) is not None]

    def take(self, index: np.ndarray) -> TurnTable:
        """Rows at ``index`` (a permutation or a subset), as a new table."""
        kwargs = {c: getattr(self, c)[index] for c in self.columns}
        out = TurnTable(**kwargs)
        cached = getattr(self, "_anchor_codes", None)
        if cached is not None and cached[0] is self.anchor:
            out._anchor_codes = (out.anchor, cached[1][index])
        if self.source is not None:
            out.source = self.source[index]
        return out

    def to_dict(self) -> dict[str, np.ndarray]:
        return {c: getattr(self, c) for c in self.columns}

    def write_back(
        self,
        episodes: Sequence[Episode],
        advantage: np.ndarray,
        clip_scale: np.ndarray | None = None,
    ) -> None:
        """Store per-row results on the turns they came from (tables from ``from_episodes`` only)."""
        if self.source is None:
            raise ValueError("write_back needs a table built by TurnTable.from_episodes")
        if len(advantage) != len(self):
            raise ValueError(f"advantage has {len(advantage)} rows, table has {len(self)}")
        for row, (e_idx, t_idx) in enumerate(self.source):
            t = episodes[e_idx].turns[t_idx]
            t.advantage = float(advantage[row])
            if clip_scale is not None:
                t.clip_scale = float(clip_scale[row])

    def __repr__(self) -> str:
        return f"TurnTable(rows={len(self)}, groups={len(np.unique(self.group))}, columns={self.columns})"


def partial_groups(episodes: Sequence[Episode]) -> set[str]:
    """Group ids with fewer rollouts than the ``meta["group_size"]`` their episodes carry
    (branches made from a member, which share its group id, do not count)."""
    need: dict[str, int] = {}
    have: dict[str, int] = {}
    for ep in episodes:
        size = ep.meta.get("group_size") if ep.group_id is not None else None
        if isinstance(size, int) and not isinstance(size, bool) and ep.parent_id is None:
            need[ep.group_id] = size  # type: ignore[index]
            have[ep.group_id] = have.get(ep.group_id, 0) + 1  # type: ignore[arg-type]
    return {g for g, n in need.items() if have[g] < n}
