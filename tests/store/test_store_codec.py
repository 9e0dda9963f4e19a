"""The record codec is exact for arbitrary turn contents (property-based), and fails clearly otherwise."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turngym.core.episode import Episode, Turn
from turngym.store import EncodeError, codec

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # any Unicode but lone surrogates
floats = st.floats(allow_nan=True, allow_infinity=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | floats | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def turns(draw) -> Turn:
    n = draw(st.integers(0, 6))
    return Turn(
        index=draw(st.integers(0, 50)),
        agent=draw(st.none() | text),
        observation=draw(text),
        anchor=draw(st.none() | text),
        prompt=draw(
            st.none() | text | st.lists(st.integers(0, 2**31), max_size=8) | st.lists(st.dictionaries(text, text))
        ),
        response_text=draw(text),
        response_token_ids=draw(st.lists(st.integers(0, 2**31), min_size=n, max_size=n)),
        rollout_logprobs=draw(st.lists(floats, min_size=n, max_size=n)),
        loss_mask=draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n)),
        action=draw(text),
        action_valid=draw(st.booleans()),
        reward=draw(floats),
        tool_calls=draw(st.none() | st.lists(st.dictionaries(text, json_values, max_size=3), max_size=2)),
        info=draw(st.dictionaries(text, json_values, max_size=4)),
        advantage=draw(st.none() | floats | st.lists(floats, max_size=4)),
        clip_scale=draw(st.none() | floats),
        entropy=draw(st.none() | floats),
    )


def _same(a: object, b: object) -> bool:
    """Structural equality where NaN equals NaN and -0.0 differs from 0.0 (bit-exact floats)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(turns(), max_size=4), st.none() | st.integers(-(2**130), 2**130), floats, json_values)
def test_episode_text_round_trip_is_exact(turn_list, seed, reward, meta_value):
    episode = Episode(env_id="E-v0", turns=turn_list, seed=seed, outcome_reward=reward, meta={"v": meta_value})
    back = codec.load_episode(codec.dump_header(episode), [codec.dump_turn(t) for t in episode.turns])
    assert _same(back.model_dump(), episode.model_dump())
    assert _same(Episode.model_validate_json(codec.dump_episode(episode)).model_dump(), episode.model_dump())


def test_unencodable_values_raise_encode_error():
    with pytest.raises(EncodeError, match="cannot store a value of type object"):
        codec.dump_turn(Turn(index=0, info={"x": object()}))
    with pytest.raises(EncodeError, match="surrogates"):
        codec.dump_turn(Turn(index=0, action="bad\udcff"))
