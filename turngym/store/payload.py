"""The compact per-episode payload of schema 3: canonical JSON plus packed number arrays, zstd-compressed.

Why this shape: in a training run ~80% of an episode's JSON is token ids and logprobs written as
decimal text (a 16-bit token id costs ~6 characters, a float64 logprob ~19). Here those per-token
lists leave the JSON and are stored as binary arrays (each field its own array, in the smallest
integer dtype that holds its values; float lists as float64, so every bit, NaN payloads and -0.0
included, survives), and a turn's prompt that extends the previous turn's prompt (a transcript
that grows, chat history re-sent every turn) is stored as "the previous prompt's first L items" plus
what is new. The rest of the episode stays pydantic's own JSON. The whole is one zstd frame.

Layout before compression (little-endian)::

    u8 format (=1) | u32 len | episode JSON without the packed turn fields
                   | u32 len | manifest JSON: per packed field, one spec per turn
                   | per array field: u8 dtype code | u32 nbytes | bytes

Spec per turn and field: ``null`` (the value is None), ``n`` (the next n items of the field's array),
``[L, n]`` (the previous turn's value's first L items, then the next n items of the array),
``["j", value]`` (stored as JSON: chat prompts, text prompts, scalar advantages, ints past int64),
``["s", L, suffix]`` (the previous turn's value's first L items / characters, then ``suffix``).

Decoding rebuilds the exact JSON document pydantic wrote (keys in field order), so exports can write
it without building models, and the store builds models without re-validating what it validated on
the way in (``episode_from_doc``).
"""

from __future__ import annotations

import array
import struct
import threading
from typing import Any

import numpy as np
import pydantic_core
import zstandard

from turngym.core.episode import Episode, Turn
from turngym.store import codec

FORMAT = 1
#: Turn fields packed as integer arrays (``prompt`` only when it is a list of ints).
INT_FIELDS = ("prompt", "prompt_token_ids", "response_token_ids", "loss_mask")
#: Turn fields packed as float64 arrays (``advantage`` only when it is a per-token list).
FLOAT_FIELDS = ("rollout_logprobs", "trainer_logprobs", "advantage")
PACKED = INT_FIELDS + FLOAT_FIELDS
TURN_FIELDS = tuple(Turn.model_fields)
EPISODE_FIELDS = tuple(Episode.model_fields)
_EXCLUDE = {"turns": {"__all__": set(PACKED)}}
_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.int64, np.float64)
_CODE = {np.dtype(d): i for i, d in enumerate(_DTYPES)}
_U32 = struct.Struct("<I")
_HEAD = struct.Struct("<BI")
_LEVEL = 3
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = zstandard.ZstdCompressor(level=_LEVEL)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


def _smallest_int(values: array.array) -> np.ndarray:
    a = np.frombuffer(values, dtype=np.int64)
    if not len(a):
        return a.astype(np.uint8)
    lo, hi = int(a.min()), int(a.max())
    for dtype in _DTYPES[:-2]:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return a.astype(dtype)
    return a


def _is_int_list(value: Any) -> bool:
    return type(value) is list and (not value or type(value[0]) is int)


def _same_prefix(prev: Any, value: Any) -> int:
    """Length L > 0 when ``value`` starts with the whole of ``prev`` (same kind), else 0."""
    if type(prev) is not type(value) or not prev or len(prev) > len(value):
        return 0
    if type(value) is str:
        return len(prev) if value.startswith(prev) else 0
    if value[0] != prev[0] or value[len(prev) - 1] != prev[-1]:  # cheap rejection before the full compare
        return 0
    return len(prev) if value[: len(prev)] == prev else 0


def encode_episode(episode: Episode) -> bytes:
    """The compressed payload of one episode (raises ``codec.EncodeError`` for unstorable values)."""
    try:
        doc = codec._EPISODE_SERIALIZER.to_json(episode, exclude=_EXCLUDE, fallback=codec._fallback, warnings=False)
    except (pydantic_core.PydanticSerializationError, TypeError) as exc:
        raise codec.EncodeError(str(exc)) from exc
    specs: dict[str, list[Any]] = {f: [] for f in PACKED}
    ints: dict[str, list[int]] = {f: [] for f in INT_FIELDS}
    floats: dict[str, list[float]] = {f: [] for f in FLOAT_FIELDS}
    prev: dict[str, Any] = {}
    for turn in episode.turns:
        for field in PACKED:
            value = getattr(turn, field)
            spec: Any
            if value is None:
                spec = None
            elif type(value) is str or (field == "prompt" and not _is_int_list(value)):
                n = _same_prefix(prev.get(field), value)
                spec = ["s", n, value[n:]] if n else ["j", value]
            elif type(value) is not list:  # a scalar advantage
                spec = ["j", value]
            else:
                n = _same_prefix(prev.get(field), value)
                rest = value[n:] if n else value
                (ints if field in ints else floats)[field].extend(rest)
                spec = [n, len(rest)] if n else len(rest)
            specs[field].append(spec)
            prev[field] = value
    blobs = []
    try:
        for field in INT_FIELDS:
            blobs.append(_smallest_int(array.array("q", ints[field])))
        for field in FLOAT_FIELDS:
            blobs.append(np.frombuffer(array.array("d", floats[field]), dtype=np.float64))
    except (OverflowError, TypeError):
        return _encode_unpacked(episode, doc)
    manifest = codec.encode(specs).encode()
    parts = [_HEAD.pack(FORMAT, len(doc)), doc, _U32.pack(len(manifest)), manifest]
    for blob in blobs:
        parts.append(_HEAD.pack(_CODE[blob.dtype], blob.nbytes))
        parts.append(blob.tobytes())
    return _compressor().compress(b"".join(parts))


def _encode_unpacked(episode: Episode, doc: bytes) -> bytes:
    """Slow path for values an array cannot hold exactly (ints past int64, non-numbers): all JSON."""
    specs = {f: [None if (v := getattr(t, f)) is None else ["j", v] for t in episode.turns] for f in PACKED}
    manifest = codec.encode(specs).encode()
    parts = [_HEAD.pack(FORMAT, len(doc)), doc, _U32.pack(len(manifest)), manifest]
    for dtype in (np.uint8,) * len(INT_FIELDS) + (np.float64,) * len(FLOAT_FIELDS):
        parts.append(_HEAD.pack(_CODE[np.dtype(dtype)], 0))
    return _compressor().compress(b"".join(parts))


def decode_doc(payload: bytes) -> dict[str, Any]:
    """The episode as the plain JSON document pydantic wrote (dicts/lists, keys in field order)."""
    raw = _decompressor().decompress(payload)
    fmt, n = _HEAD.unpack_from(raw, 0)
    if fmt != FORMAT:
        raise ValueError(f"unknown episode payload format {fmt}")
    pos = _HEAD.size
    doc = pydantic_core.from_json(raw[pos : pos + n])
    pos += n
    (m,) = _U32.unpack_from(raw, pos)
    pos += 4
    specs = pydantic_core.from_json(raw[pos : pos + m])
    pos += m
    arrays: dict[str, list] = {}
    for field in PACKED:
        code, nbytes = _HEAD.unpack_from(raw, pos)
        pos += _HEAD.size
        dtype = np.dtype(_DTYPES[code])
        arrays[field] = np.frombuffer(raw, dtype, nbytes // dtype.itemsize, pos).tolist() if nbytes else []
        pos += nbytes
    turns = doc["turns"]
    for field in PACKED:
        values = arrays[field]
        at = 0
        previous: Any = None
        for turn, spec in zip(turns, specs[field], strict=True):
            if spec is None:
                value = None
            elif type(spec) is int:
                value = values[at : at + spec]
                at += spec
            elif type(spec[0]) is int:
                keep, k = spec
                value = previous[:keep] + values[at : at + k]
                at += k
            elif spec[0] == "j":
                value = spec[1]
            else:
                value = previous[: spec[1]] + spec[2]
            turn[field] = value
            previous = value
    doc["turns"] = [{k: t[k] for k in TURN_FIELDS} for t in turns]
    return doc


def doc_json(doc: dict[str, Any]) -> str:
    """The episode's JSON text, identical to ``codec.dump_episode`` of the model."""
    return pydantic_core.to_json(doc, inf_nan_mode="constants").decode()


def episode_from_doc(doc: dict[str, Any]) -> Episode:
    """An ``Episode`` built without re-validation: the store validated it when it was written.

    The document is the store's own (``decode_doc``): every field present with the JSON types
    validation produced, so construction yields a model equal to ``Episode.model_validate(doc)``.
    """
    values = dict(doc)
    values["turns"] = [Turn.model_construct(**t) for t in doc["turns"]]
    return Episode.model_construct(**values)


def decode_episode(payload: bytes) -> Episode:
    return episode_from_doc(decode_doc(payload))
