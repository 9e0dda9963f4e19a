"""JSON text for episodes and turns, exact in both directions.

Why not plain ``model_dump_json()``: pydantic writes NaN and ±inf as ``null`` and then refuses to
load them back, and ``-inf`` logprobs do happen. The serialisers here are those of private subclasses
configured with ``ser_json_inf_nan="constants"`` (``NaN``/``Infinity`` tokens, which pydantic's and
Python's JSON parsers accept), applied to ordinary ``Episode``/``Turn`` instances, so encoding stays
in pydantic's Rust core. Floats are written in shortest round-trip form, so every value reloads
bit-identical. numpy scalars and arrays (a trainer writing ``np.float32`` advantages) are encoded
through ``tolist()``.

An episode is stored as a header (the episode without turns) plus one text per turn; ``load_episode``
splices them into one JSON document so validation runs once, also in the Rust core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic_core
from pydantic import ConfigDict, Field

from turngym.core.episode import Episode, Turn

#: Turn fields the trainer fills in after the rollout (``EpisodeStore.update_training_fields``).
TRAINING_FIELDS = ("advantage", "clip_scale", "trainer_logprobs", "step_reward", "info_gain", "entropy")


class EncodeError(ValueError):
    """A record holds a value JSON cannot carry (an arbitrary object in ``info``/``meta``)."""


def _fallback(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy / torch scalars and arrays
        return tolist()
    raise TypeError(f"cannot store a value of type {type(value).__name__}: {value!r:.80}")


class _TurnOut(Turn):
    """Serialiser carrier only: ``Turn`` with NaN/inf written as JSON constants."""

    model_config = ConfigDict(ser_json_inf_nan="constants")


class _EpisodeOut(Episode):
    """Serialiser carrier only: ``Episode`` (and its turns) with NaN/inf written as JSON constants."""

    model_config = ConfigDict(ser_json_inf_nan="constants")
    turns: list[_TurnOut] = Field(default_factory=list)  # type: ignore[assignment]


_TURN_SERIALIZER = _TurnOut.__pydantic_serializer__
_EPISODE_SERIALIZER = _EpisodeOut.__pydantic_serializer__


def _serialize(serializer: pydantic_core.SchemaSerializer, value: Any, **kwargs: Any) -> str:
    try:
        return serializer.to_json(value, fallback=_fallback, warnings=False, **kwargs).decode()
    except (pydantic_core.PydanticSerializationError, TypeError) as exc:
        raise EncodeError(str(exc)) from exc


def encode(value: Any) -> str:
    """JSON text of plain Python data, keeping NaN/inf and converting numpy values."""
    try:
        return pydantic_core.to_json(value, inf_nan_mode="constants", fallback=_fallback).decode()
    except (pydantic_core.PydanticSerializationError, TypeError) as exc:
        raise EncodeError(str(exc)) from exc


def dump_turn(turn: Turn) -> str:
    return _serialize(_TURN_SERIALIZER, turn)


def dump_header(episode: Episode) -> str:
    """The episode without its turns; ``load_episode`` puts them back."""
    return _serialize(_EPISODE_SERIALIZER, episode, exclude={"turns"})


def dump_episode(episode: Episode) -> str:
    return _serialize(_EPISODE_SERIALIZER, episode)


def load_episode(header: str, turns: Sequence[str]) -> Episode:
    """Rebuild and validate an episode from its stored header and turn texts (in order)."""
    if not header.startswith("{") or header == "{}":
        raise ValueError(f"malformed episode header: {header[:80]!r}")
    return Episode.model_validate_json('{"turns":[' + ",".join(turns) + "]," + header[1:])
