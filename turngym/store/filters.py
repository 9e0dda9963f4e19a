"""Keyword filters → a parameterised SQL ``WHERE`` clause over the episode header columns.

Filters are validated here (unknown names, wrong types, bad ``order_by``) so that a typo in the
viewer or a config gives a message naming the valid options instead of silently matching everything.
A filter given as ``None`` is treated as absent, so callers can pass optional query parameters through.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

from turngym.store.schema import ORDER_COLUMNS

_STRING_FILTERS = {
    "run_id": "run_id",
    "env_id": "env_id",
    "task_id": "task_id",
    "group_id": "group_id",
    "parent_id": "parent_id",
    "tag": "tag",
}
_RANGE_FILTERS = {
    "min_reward": "outcome_reward >= ?",
    "max_reward": "outcome_reward <= ?",
    "min_invalid_rate": "invalid_rate >= ?",
    "max_invalid_rate": "invalid_rate <= ?",
}
_INT_FILTERS = {"step": "step = ?", "min_step": "step >= ?", "max_step": "step <= ?"}
_BOOL_FILTERS = {
    "won": ("won = 1", "won = 0"),
    "truncated": ("truncated = 1", "truncated = 0"),
    "has_parent": ("parent_id IS NOT NULL", "parent_id IS NULL"),
    "error": ("error IS NOT NULL", "error IS NULL"),
    # tagged=False is the training data: no eval episodes, no branches made in the viewer
    "tagged": ("tag IS NOT NULL", "tag IS NULL"),
}
#: Filters the ``counts`` table answers (its ``tag`` is '' for untagged episodes).
COUNT_FILTERS = frozenset({"run_id", "env_id", "won", "tag", "tagged"})
_COUNTS_BOOL = {"tagged": ("tag != ''", "tag = ''")}
FILTER_NAMES = tuple(sorted({*_STRING_FILTERS, *_RANGE_FILTERS, *_INT_FILTERS, *_BOOL_FILTERS}))


def counts_answerable(filters: Mapping[str, Any]) -> bool:
    """True when every active filter is one the ``counts`` table is keyed by."""
    return all(value is None or name in COUNT_FILTERS for name, value in filters.items())


def where_clause(filters: Mapping[str, Any], *, counts: bool = False, has_tag: bool = True) -> tuple[str, list[Any]]:
    """``(" WHERE ...", params)`` for the given filters (``("", [])`` when none apply).

    ``counts``: the clause is for the ``counts`` table; ``has_tag=False``: the file has no ``tag``
    column (schema 1), where every episode is untagged.
    """
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise TypeError(f"unknown episode filter(s) {unknown}; valid filters: {', '.join(FILTER_NAMES)}")
    parts: list[str] = []
    params: list[Any] = []
    for name, value in filters.items():
        if value is None:
            continue
        if not has_tag and name in ("tag", "tagged"):
            if name == "tagged" and not isinstance(value, bool):
                raise TypeError(f"filter {name} takes a bool, got {value!r}")
            if name == "tag" and not isinstance(value, str | list | tuple | set | frozenset):
                raise TypeError(f"filter {name} takes a string or a collection of strings, got {value!r}")
            if name == "tag" or value is True:
                parts.append("0")  # nothing is tagged in a file without tags
            continue
        if name in _STRING_FILTERS:
            column = _STRING_FILTERS[name]
            if isinstance(value, str):
                parts.append(f"{column} = ?")
                params.append(value)
            elif isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, str) for v in value):
                values = sorted(value)
                if not values:
                    parts.append("0")  # matching any of nothing matches nothing
                else:
                    parts.append(f"{column} IN ({','.join('?' * len(values))})")
                    params.extend(values)
            else:
                raise TypeError(f"filter {name} takes a string or a collection of strings, got {value!r}")
        elif name in _BOOL_FILTERS:
            if not isinstance(value, bool):
                raise TypeError(f"filter {name} takes a bool, got {value!r}")
            table = _COUNTS_BOOL if counts and name in _COUNTS_BOOL else _BOOL_FILTERS
            parts.append(table[name][0 if value else 1])
        elif name in _INT_FILTERS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"filter {name} takes an int, got {value!r}")
            if not -(2**63) <= value < 2**63:
                raise ValueError(f"filter {name} must fit in 64 bits, got {value}")
            parts.append(_INT_FILTERS[name])
            params.append(value)
        else:
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(f"filter {name} takes a number, got {value!r}")
            parts.append(_RANGE_FILTERS[name])
            params.append(float(value))
    return (" WHERE " + " AND ".join(parts), params) if parts else ("", [])


def order_clause(order_by: str, descending: bool) -> str:
    """``ORDER BY`` with insertion order as the tie-breaker, so pages never overlap or skip."""
    if order_by not in ORDER_COLUMNS:
        raise ValueError(f"cannot order by {order_by!r}; allowed: {', '.join(ORDER_COLUMNS)}")
    direction = "DESC" if descending else "ASC"
    return f" ORDER BY {order_by} {direction}, id {direction}"


def limit_clause(limit: int | None, offset: int) -> tuple[str, list[int]]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit < 2**63):
        raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**63:
        raise ValueError(f"offset must be a non-negative int, got {offset!r}")
    if limit is None and offset == 0:
        return "", []
    return " LIMIT ? OFFSET ?", [-1 if limit is None else limit, offset]
