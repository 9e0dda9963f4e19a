"""Reading agents' messages and aggregating them: verdicts, CEO decisions, the majority vote.

Pure functions over strings and answer keys, so the rules the docs promise (which tag counts,
what a missing vote does, how ties break) are each written once and tested directly.

**Missing-vote rule** (one rule for every aggregation): an agent votes with the answer of its
latest message that holds one; an agent that never gave an answer abstains. With no vote at all
the team has no answer and scores 0. A judge without an answer falls back to the majority vote of
the debaters; a solver whose last message has no answer is read back to its latest earlier answer.
Ties in a vote go to the tied answer given by the lowest-numbered agent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_VERDICT = re.compile(r"\[(agree|disagree)\]", re.IGNORECASE)
_DECISION = re.compile(r"\[(continue|stop)\]", re.IGNORECASE)
_CRITICS = re.compile(r"\b(?:critics|agents)\s*[:=]\s*(\d{1,3})\b", re.IGNORECASE)


def parse_verdict(text: str) -> str | None:
    """``"agree"``/``"disagree"`` from the *last* ``[Agree]``/``[Disagree]`` tag (critics end their
    message with one), or None when there is none."""
    found = _VERDICT.findall(text)
    return found[-1].lower() if found else None


def parse_decision(text: str) -> str | None:
    """``"continue"``/``"stop"`` from the last ``[Continue]``/``[Stop]`` tag, or None."""
    found = _DECISION.findall(text)
    return found[-1].lower() if found else None


def parse_critics(text: str, lo: int, hi: int) -> int | None:
    """The number of critics a CEO asks for (``critics: k``), clipped to ``[lo, hi]``; None if absent."""
    found = _CRITICS.findall(text)
    return min(max(int(found[-1]), lo), hi) if found else None


def latest_keys(keys_by_agent: Sequence[Sequence[str | None]]) -> list[str | None]:
    """Each agent's vote: the key of its latest message that has one (the missing-vote rule)."""
    votes: list[str | None] = []
    for keys in keys_by_agent:
        vote = None
        for key in reversed(keys):
            if key is not None:
                vote = key
                break
        votes.append(vote)
    return votes


def majority(votes: Sequence[str | None]) -> tuple[str | None, int | None]:
    """The plurality answer among the votes (None = abstain) and the index of the lowest-numbered
    agent that voted for it; ties go to the answer of the lowest-numbered agent among the tied.
    ``(None, None)`` when nobody voted."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, v in enumerate(votes):
        if v is None:
            continue
        counts[v] = counts.get(v, 0) + 1
        first.setdefault(v, i)
    if not counts:
        return None, None
    best = max(counts.values())
    winner = min((k for k, c in counts.items() if c == best), key=first.__getitem__)
    return winner, first[winner]


def consensus(keys: Sequence[str | None]) -> bool:
    """True when every key is the same answer (no abstention)."""
    return bool(keys) and keys[0] is not None and all(k == keys[0] for k in keys)


def clip_text(text: str, limit: int) -> str:
    """A message as shown to the other agents: whitespace collapsed, at most ``limit`` characters."""
    clean = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from bad bytes -> '?'
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in clean).split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"
