"""Vectorised group statistics shared by every estimator.

All estimators reduce to "normalise a value against the other members of its group", with the
group being a task, a (task, anchor state), a (task, turn index), ... and with small but important
differences in *who is counted* and *what a lone member gets* (ALGOS.md §8). Keeping those choices
as explicit arguments of one function (:func:`normalize`) is what lets the estimators stay short and
the presets differ only where the spec says they do. Everything is numpy: sorting, ``bincount``
and ``reduceat``; the only per-row Python work is hashing non-integer anchors once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from turngym.core.table import TurnTable

Lone = Literal["raw", "zero"]


def factorize_objects(values: np.ndarray | Sequence[Any]) -> np.ndarray:
    """Dense int codes for hashable values (anchors), in order of first appearance.

    Integer arrays take a pure-numpy path. Strings/tuples go through one dict pass at C speed
    (``map(dict.setdefault, ...)``), which is several times faster than sorting an object array.
    """
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    n = len(arr)
    if arr.dtype.kind in "iub":
        _, first, inv = np.unique(arr, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        return rank[inv.reshape(-1)]
    seen: dict[Any, int] = {}
    first_row = np.fromiter(map(seen.setdefault, arr.tolist(), range(n)), dtype=np.int64, count=n)
    # first_row[i] is the first row holding the value of row i; make the codes dense.
    is_first = first_row == np.arange(n)
    dense = np.cumsum(is_first) - 1
    return dense[first_row]


def codes_of(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes for one integer key column: the values themselves when they are small non-negative
    ints (no sort needed), else a compacting ``np.unique``."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), 0
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 and hi < 4 * len(values) + 1024:
        return values.astype(np.int64, copy=False), hi + 1
    uniq, inv = np.unique(values, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), len(uniq)


def nested_codes(outer: np.ndarray, inner: np.ndarray, n_inner: int) -> tuple[np.ndarray, int]:
    """Codes for (outer, inner) pairs given dense ``inner`` codes. When every inner value lives in
    a single outer key (anchors of one task), the inner codes already are the pair codes."""
    if len(inner) == 0:
        return np.zeros(0, dtype=np.int64), 0
    first = np.full(n_inner, -1, dtype=np.int64)
    rows = np.arange(len(inner))
    first[inner[::-1]] = rows[::-1]  # any row of the value works as its representative
    if np.array_equal(outer, outer[first[inner]]):
        return inner, n_inner
    return combine_keys(outer, inner)


def combine_keys(*keys: np.ndarray, dense: bool = False) -> tuple[np.ndarray, int]:
    """Codes in ``[0, n_codes)`` for the tuple of integer key columns (e.g. group × turn index), and
    ``n_codes``. Some codes may be unused (which bincount-based statistics do not mind) unless
    ``dense``.

    Columns are packed arithmetically (``code·n_next + next``), one linear pass per column; only
    when the packed range would outgrow the table (sparse, huge keys) are the codes compacted with
    a sort. That keeps every estimator linear in the number of rows. ``codes_of`` bounds each
    column's range by ``4n + 1024``, so the packed value cannot overflow int64 below ~10⁹ rows.
    """
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    codes, n_codes = codes_of(np.asarray(keys[0]))
    for key in keys[1:]:
        inner, n_inner = codes_of(np.asarray(key))
        codes = codes * n_inner + inner
        n_codes *= n_inner
        if n_codes > 4 * n + 1024:
            codes = _compact(codes)
            n_codes = int(codes.max()) + 1
    if dense:
        codes = _compact(codes)
        n_codes = int(codes.max()) + 1
    return codes, n_codes


def _compact(codes: np.ndarray) -> np.ndarray:
    """Dense codes for an int column (sort-based; the rare path of :func:`combine_keys`)."""
    _, inv = np.unique(codes, return_inverse=True)
    return inv.reshape(-1).astype(np.int64)


def group_moments(
    x: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    counted: np.ndarray | None = None,
    *,
    ddof: int = 1,
    shifted: bool = True,
    need_var: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-group count, mean and variance of ``x`` over the rows where ``counted`` is true.

    Two-pass (mean first, then squared deviations), over the counted rows only (often one row
    per trajectory, a tenth of the table). ``shifted`` takes any member of each group as the
    origin, so equal members give exactly 0 deviations (what a division by ``std + eps`` needs)
    and large offsets do not cancel. Variance is NaN for groups with ``count <= ddof``.
    """
    if counted is not None:
        rows = np.flatnonzero(counted)
        x, codes = x[rows], codes[rows]
    shift = np.zeros(n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        if shifted:
            shift[codes] = x
            y = x - shift[codes]
        else:
            y = x
        count = np.bincount(codes, minlength=n_groups).astype(np.float64)
        mean_y = np.bincount(codes, weights=y, minlength=n_groups) / np.maximum(count, 1)
        mean = shift + mean_y
        if not need_var:
            return count, mean, None
        dev = y - mean_y[codes]
        ss = np.bincount(codes, weights=dev * dev, minlength=n_groups)
        var = np.where(count > ddof, ss / np.maximum(count - ddof, 1), np.nan)
    return count, mean, var


def normalize(
    x: np.ndarray,
    codes: np.ndarray,
    n_groups: int | None = None,
    *,
    counted: np.ndarray | None = None,
    by_std: bool = True,
    std: Literal["unbiased", "population"] = "unbiased",
    eps: float = 1e-6,
    var_eps: float = 0.0,
    lone: Lone = "raw",
) -> np.ndarray:
    """``(x − mean_g) / (std_g + eps)`` (or ``x − mean_g``) for every row, stats over ``counted`` rows.

    ``lone`` decides a group with one counted member: ``"raw"`` uses mean 0 and std 1 (the verl
    code: the row keeps its raw value divided by ``1 + eps``), ``"zero"`` gives 0. ``std="population"``
    with ``var_eps`` gives A²TGPO's ``sqrt(var + 1e-8)``. A group whose members are all equal gets 0.
    """
    if n_groups is None:
        n_groups = int(codes.max()) + 1 if len(codes) else 0
    ddof = 1 if std == "unbiased" else 0
    if counted is None:
        return _normalize_all(x, codes, n_groups, by_std=by_std, ddof=ddof, eps=eps, var_eps=var_eps, lone=lone)
    count, mean, var = group_moments(x, codes, n_groups, counted, ddof=ddof, shifted=by_std, need_var=by_std)
    # Work at group level, then gather once: out = (x − m_g) / d_g. A lone member with
    # ``lone="zero"`` gets d_g = inf, i.e. exactly 0 for any finite x.
    alone = count <= 1
    if var is not None:
        denom = np.sqrt(np.where(np.isnan(var), 0.0, var) + var_eps) + eps
    else:
        denom = np.ones(n_groups)
    if lone == "raw":
        mean = np.where(alone, 0.0, mean)
        denom = np.where(alone, 1.0 + eps if by_std else 1.0, denom)
    else:
        denom = np.where(alone, np.inf, denom)
    return (x - mean[codes]) / denom[codes]


def _normalize_all(
    x: np.ndarray, codes: np.ndarray, n_groups: int, *, by_std: bool, ddof: int, eps: float, var_eps: float, lone: Lone
) -> np.ndarray:
    """:func:`normalize` when every row is counted: the hot path of step-level estimators, with
    as few full-length passes as possible (in-place updates, lone groups patched afterwards)."""
    count = np.bincount(codes, minlength=n_groups)
    safe = np.maximum(count, 1)
    if by_std:
        shift = np.zeros(n_groups)
        shift[codes] = x  # any member as origin: equal members give exact zeros
        out = x - shift[codes]
        out -= (np.bincount(codes, weights=out, minlength=n_groups) / safe)[codes]
        var = np.bincount(codes, weights=out * out, minlength=n_groups) / np.maximum(count - ddof, 1)
        out /= (np.sqrt(var + var_eps) + eps)[codes]
    else:
        out = x - (np.bincount(codes, weights=x, minlength=n_groups) / safe)[codes]
    alone = count <= 1
    if alone.any():
        rows = np.flatnonzero(alone[codes])
        out[rows] = x[rows] / ((1.0 + eps) if by_std else 1.0) if lone == "raw" else 0.0
    return out


def group_min_max(x: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group min and max via one sort and ``reduceat`` (NaN for empty groups)."""
    lo = np.full(n_groups, np.nan)
    hi = np.full(n_groups, np.nan)
    if len(x) == 0:
        return lo, hi
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    present = sc[starts]
    lo[present] = np.minimum.reduceat(x[order], starts)
    hi[present] = np.maximum.reduceat(x[order], starts)
    return lo, hi


def _traj_turn_order(traj: np.ndarray, turn: np.ndarray) -> np.ndarray | None:
    """Row order by (traj, turn); None when the rows already come in that order (they usually do)."""
    n = len(traj)
    if n == 0:
        return None
    t_lo, t_hi = int(turn.min()), int(turn.max())
    span = t_hi - t_lo + 1
    if int(traj.min()) >= 0 and int(traj.max()) < (1 << 62) // span:
        key = traj.astype(np.int64) * span + (turn - t_lo)
        if np.all(key[1:] > key[:-1]):
            return None
        return np.argsort(key, kind="stable")
    return np.lexsort((turn, traj))


class TrajIndex:
    """Rows grouped into trajectories, ordered by turn: trajectory codes, each row's position, the
    first/last rows and each row's neighbours, computed lazily (each estimator needs a subset).

    ``traj`` must identify trajectories across the whole batch: pass :attr:`TurnTable.traj_key`
    (the ``(group, traj)`` pair), or use :meth:`of`. Rows usually arrive already sorted by
    (traj, turn); then nothing is permuted at all.
    """

    @classmethod
    def of(cls, table: TurnTable) -> TrajIndex:
        return cls(table.traj_key, table.turn)

    def __init__(self, traj: np.ndarray, turn: np.ndarray, *, presorted: bool = False) -> None:
        """``presorted``: the caller knows the rows are in (traj, turn) order (e.g. a subset of a
        sorted index's rows), so the check is skipped."""
        n = len(traj)
        self.n = n
        order = None if presorted else _traj_turn_order(traj, turn)
        self.sorted = order is None
        self._order = order
        st = traj if order is None else traj[order]
        start = np.empty(n, dtype=bool)
        if n:
            start[0] = True
            np.not_equal(st[1:], st[:-1], out=start[1:])
        self._start_sorted = start
        self._seg_sorted = np.cumsum(start) - 1
        self._seg_start = np.flatnonzero(start)
        self.n_traj = len(self._seg_start)

    @property
    def order(self) -> np.ndarray:
        """Row indices in (traj, turn) order."""
        return np.arange(self.n) if self._order is None else self._order

    def _unsort(self, values: np.ndarray) -> np.ndarray:
        if self.sorted:
            return values
        out = np.empty_like(values)
        out[self.order] = values
        return out

    @cached_property
    def traj_codes(self) -> np.ndarray:
        """Dense trajectory code per row."""
        return self._unsort(self._seg_sorted)

    @cached_property
    def first(self) -> np.ndarray:
        return self._unsort(self._start_sorted)

    @cached_property
    def first_seen(self) -> np.ndarray:
        """The first row of each trajectory in *table* order (not turn order).

        The official iStar and verl-agent (``cross_steps=False``) baselines take "the first row of
        each trajectory the loop meets", so their numbers depend on the batch order; this mask
        reproduces that. For tables sorted by turn inside each trajectory it equals :attr:`first`.
        """
        if self.sorted:
            return self.first
        codes = self.traj_codes
        order = np.argsort(codes, kind="stable")
        starts = np.r_[True, codes[order][1:] != codes[order][:-1]] if self.n else np.zeros(0, bool)
        out = np.zeros(self.n, dtype=bool)
        out[order[starts]] = True
        return out

    @cached_property
    def _end_sorted(self) -> np.ndarray:
        end = np.empty(self.n, dtype=bool)
        if self.n:
            end[:-1] = self._start_sorted[1:]
            end[-1] = True
        return end

    @cached_property
    def last(self) -> np.ndarray:
        return self._unsort(self._end_sorted)

    @cached_property
    def position(self) -> np.ndarray:
        """Position of the row inside its trajectory (0-based, in turn order)."""
        return self._unsort(np.arange(self.n) - self._seg_start[self._seg_sorted])

    @cached_property
    def length(self) -> np.ndarray:
        """Number of turns of the row's trajectory."""
        seg_len = np.diff(np.r_[self._seg_start, self.n])
        return self._unsort(seg_len[self._seg_sorted])

    @cached_property
    def prev(self) -> np.ndarray:
        """Index of the previous row of the same trajectory, -1 for the first one."""
        if self.n == 0:
            return np.zeros(0, dtype=np.int64)
        prv = np.where(self._start_sorted, -1, np.r_[-1, self.order[:-1]])
        return self._unsort(prv)

    @cached_property
    def first_rows(self) -> np.ndarray:
        """Row of each trajectory's first turn, indexed by trajectory code."""
        return self._seg_start if self._order is None else self._order[self._seg_start]

    @cached_property
    def last_rows(self) -> np.ndarray:
        """Row of each trajectory's last turn, indexed by trajectory code."""
        ends = np.r_[self._seg_start[1:] - 1, self.n - 1] if self.n else self._seg_start
        return ends if self._order is None else self._order[ends]

    def traj_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum of ``x`` over each row's trajectory, broadcast back to the rows."""
        return self.per_traj_sum(x)[self.traj_codes]

    def per_traj_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum of ``x`` over each trajectory, indexed by trajectory code.

        Trajectory-level statistics (outcome z-scores, GRPO over one score per trajectory) are
        computed on these short arrays and broadcast once, instead of masking full-length columns.
        """
        return np.bincount(self.traj_codes, weights=x, minlength=self.n_traj)

    def discounted(self, r: np.ndarray, gamma: float) -> np.ndarray:
        """``R_t = Σ_{k≥t} γ^{k−t} r_k`` inside each trajectory.

        Walks backwards from the last turns one level at a time (``R = r + γ·R_next`` for all
        trajectories at once), so the arithmetic is the textbook recursion, each row is touched
        once, and long trajectories cannot overflow as ``γ^{-t}`` tricks do.
        """
        r = np.asarray(r, dtype=np.float64)
        out = r.copy()
        if self.sorted:  # the previous row is simply the row before
            start = self._start_sorted
            rows = np.flatnonzero(self._end_sorted & ~start)
            while len(rows):
                p = rows - 1
                out[p] = r[p] + gamma * out[rows]
                rows = p[~start[p]]
            return out
        prev = self.prev
        rows = np.flatnonzero(self.last)
        while len(rows):
            p = prev[rows]
            keep = p >= 0
            rows, p = rows[keep], p[keep]
            out[p] = r[p] + gamma * out[rows]
            rows = p
        return out
