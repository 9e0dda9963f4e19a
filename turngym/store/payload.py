"""The compact per-episode payload of schema 3: canonical JSON plus packed number arrays, zstd-compressed.

Why this shape: in a training run most of an episode's JSON is token ids and logprobs written as
decimal text (a 16-bit token id costs ~6 characters, a float64 logprob ~19). Here those per-token
lists leave the JSON and are stored as binary arrays (one per field, integers in the smallest dtype
that holds them; floats as float64, so every bit, NaN payloads and -0.0 included, survives). A turn's
integer prompt that extends the previous turn's (a growing transcript) is stored as "the previous
prompt's first L ids" plus the new ones; repeated text (chat history re-sent every turn) is left to
zstd, which matches it within the episode's single frame.

The JSON is pydantic's own ``dump_episode`` text in which each packed value is replaced by a
sentinel number, so decoding is text splicing: the exact canonical JSON comes back without building
a model or parsing the document (``episode_json``), which is what makes exports stream fast. A
sentinel that also occurs in the user's own data (it never should) is detected when encoding and
the episode is then stored unpacked, never misread.

Layout before compression (little-endian)::

    u8 format (=2) | u32 turns T | i32[T*F] lengths (-1: not packed) | i32[T*F] kept prefix lengths
    | per field: u8 dtype code | u32 nbytes | bytes | u32 len | header JSON (episode without turns)
    | canonical JSON with sentinels (to the end)
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

FORMAT = 2
#: Packed turn fields in the order they appear in a turn's JSON; ``prompt`` only when it holds ints,
#: ``advantage`` only when it is a per-token list.
PACKED = ("prompt", "prompt_token_ids", "response_token_ids", "rollout_logprobs", "loss_mask", "advantage", "trainer_logprobs")
_FLOAT = frozenset({"rollout_logprobs", "advantage", "trainer_logprobs"})
_SHARES_PREFIX = frozenset({"prompt", "prompt_token_ids"})
assert [f for f in Turn.model_fields if f in PACKED] == list(PACKED)
_F = len(PACKED)
SENTINEL = -7_301_046_093_577_263_619_331  # past int64: no packable value can equal it
_SENTINEL_TEXT = str(SENTINEL).encode()
_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.int64, np.float64)
_CODE = {np.dtype(d): i for i, d in enumerate(_DTYPES)}
_HEAD = struct.Struct("<BI")
_U32 = struct.Struct("<I")
_LEVEL = 1
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


_TRY_CODES = {"loss_mask": "BHIq"}


def _smallest_int(field: str, values: list[int]) -> np.ndarray:
    """The smallest unsigned array type that takes every value (``array`` checks the range while it
    converts, one pass), else int64; ``OverflowError`` past int64."""
    for code in _TRY_CODES.get(field, "HIq"):
        try:
            packed = array.array(code, values)
        except OverflowError:
            if code == "q":
                raise
            continue
        return np.frombuffer(packed, dtype=_ARRAY_DTYPE[code]) if values else np.zeros(0, np.uint8)
    raise AssertionError("unreachable")


_ARRAY_DTYPE = {"B": np.uint8, "H": np.uint16, "I": np.uint32, "q": np.int64}
assert array.array("I").itemsize == 4 and array.array("q").itemsize == 8


def _with(turn: Turn, update: dict[str, Any]) -> Turn:
    """A shallow copy of ``turn`` with some values replaced (what ``model_copy(update=)`` does, minus
    its per-call overhead: this runs for every turn written)."""
    copy = object.__new__(type(turn))
    object.__setattr__(copy, "__dict__", {**turn.__dict__, **update})
    object.__setattr__(copy, "__pydantic_fields_set__", turn.__pydantic_fields_set__)
    object.__setattr__(copy, "__pydantic_extra__", turn.__pydantic_extra__)
    object.__setattr__(copy, "__pydantic_private__", turn.__pydantic_private__)
    return copy


def _dump(episode: Episode) -> bytes:
    try:
        return codec._EPISODE_SERIALIZER.to_json(episode, fallback=codec._fallback, warnings=False)
    except (pydantic_core.PydanticSerializationError, TypeError) as exc:
        raise codec.EncodeError(str(exc)) from exc


def encode_episode(episode: Episode) -> bytes:
    """The compressed payload of one episode (raises ``codec.EncodeError`` for unstorable values)."""
    turns = episode.turns
    n_turns = len(turns)
    lengths = np.full((n_turns, _F), -1, dtype=np.int32)
    kept = np.zeros((n_turns, _F), dtype=np.int32)
    values: list[list] = [[] for _ in PACKED]
    copies = []
    packed = 0
    for i, turn in enumerate(turns):
        state = turn.__dict__
        update = None
        for j, field in enumerate(PACKED):
            value = state[field]
            if type(value) is not list or (field == "prompt" and value and type(value[0]) is not int):
                continue  # None, text/chat prompts, scalar advantages, arrays: stay in the JSON
            rest = value
            if field in _SHARES_PREFIX and i:
                prev = turns[i - 1].__dict__[field]
                n = len(prev) if type(prev) is list else 0
                if 0 < n <= len(value) and value[n - 1] == prev[-1] and value[:n] == prev:
                    kept[i, j] = n
                    rest = value[n:]
            values[j].extend(rest)
            lengths[i, j] = len(rest)
            if update is None:
                update = {}
            update[field] = SENTINEL
            packed += 1
        copies.append(_with(turn, update) if update else turn)
    try:
        blobs = [
            np.frombuffer(array.array("d", v), dtype=np.float64) if f in _FLOAT else _smallest_int(f, v)
            for f, v in zip(PACKED, values, strict=True)
        ]
        text = _dump(episode.model_copy(update={"turns": copies})) if packed else _dump(episode)
        if text.count(_SENTINEL_TEXT) != packed:
            raise ValueError("sentinel collision")
    except (OverflowError, TypeError, ValueError):  # ints past int64, non-numbers, the sentinel in user data
        lengths.fill(-1)
        kept.fill(0)
        blobs = [np.zeros(0, np.uint8)] * _F
        text = _dump(episode)
    header = codec.dump_header(episode).encode()
    parts = [_HEAD.pack(FORMAT, n_turns), lengths.tobytes(), kept.tobytes()]
    for blob in blobs:
        parts.append(_HEAD.pack(_CODE[blob.dtype], blob.nbytes))
        parts.append(blob.tobytes())
    parts += [_U32.pack(len(header)), header, text]
    return _compressor().compress(b"".join(parts))


def _unpack(data: bytes) -> tuple[np.ndarray, np.ndarray, list[list], bytes, bytes]:
    raw = _decompressor().decompress(data)
    fmt, n_turns = _HEAD.unpack_from(raw, 0)
    if fmt != FORMAT:
        raise ValueError(f"unknown episode payload format {fmt}")
    pos = _HEAD.size
    size = n_turns * _F * 4
    lengths = np.frombuffer(raw, np.int32, n_turns * _F, pos).reshape(n_turns, _F)
    kept = np.frombuffer(raw, np.int32, n_turns * _F, pos + size).reshape(n_turns, _F)
    pos += 2 * size
    values = []
    for _ in PACKED:
        code, nbytes = _HEAD.unpack_from(raw, pos)
        pos += _HEAD.size
        dtype = np.dtype(_DTYPES[code])
        values.append(np.frombuffer(raw, dtype, nbytes // dtype.itemsize, pos).tolist() if nbytes else [])
        pos += nbytes
    (n,) = _U32.unpack_from(raw, pos)
    pos += 4
    return lengths, kept, values, raw[pos : pos + n], raw[pos + n :]


def _packed_values(lengths: np.ndarray, kept: np.ndarray, values: list[list]) -> list[list]:
    """The packed values in text order (turn by turn, fields in ``PACKED`` order)."""
    out: list[list] = []
    at = [0] * _F
    prev: list[Any] = [None] * _F
    for row, keep in zip(lengths.tolist(), kept.tolist(), strict=True):
        for j, n in enumerate(row):
            if n < 0:
                prev[j] = None
                continue
            k = at[j]
            value = values[j][k : k + n]
            at[j] = k + n
            if keep[j]:
                value = prev[j][: keep[j]] + value
            prev[j] = value
            out.append(value)
    return out


def episode_json(data: bytes) -> bytes:
    """The episode's canonical JSON (UTF-8), identical to ``codec.dump_episode`` of the model."""
    return export_parts(data)[0]


def export_parts(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """``(canonical JSON, header fields)`` from one decompression: what an export row needs."""
    lengths, kept, values, header, text = _unpack(data)
    return _splice(text, _packed_values(lengths, kept, values)), pydantic_core.from_json(header)


def _splice(text: bytes, packed: list[list]) -> bytes:
    """The canonical JSON: each sentinel replaced by its value's JSON, as pydantic writes it."""
    if not packed:
        return text
    pieces = text.split(_SENTINEL_TEXT)
    to_json = pydantic_core.to_json
    out = [pieces[0]]
    for value, piece in zip(packed, pieces[1:], strict=True):
        out.append(to_json(value, inf_nan_mode="constants"))
        out.append(piece)
    return b"".join(out)


def decode_doc(payload: bytes) -> dict[str, Any]:
    """The episode as the plain JSON document pydantic wrote (dicts/lists, keys in field order)."""
    lengths, kept, values, _, text = _unpack(payload)
    doc = pydantic_core.from_json(text)
    packed = iter(_packed_values(lengths, kept, values))
    for turn, row in zip(doc["turns"], lengths.tolist(), strict=True):
        for field, n in zip(PACKED, row, strict=True):
            if n >= 0:
                turn[field] = next(packed)
    return doc


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
