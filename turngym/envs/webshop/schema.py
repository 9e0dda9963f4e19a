"""The raw record shapes of WebShop's data files, as upstream ships them (and as we generate them).

- ``items_shuffle*.json``: a list of scraped product records (:class:`RawProduct`); upstream turns
  each into the processed product dict the pages and the reward read (``Title``, ``BulletPoints``,
  ``Price``, ``options``, ``Attributes``, ...; see :mod:`.data`).
- ``items_ins_v2*.json``: ``{asin: AttributeRecord}``: the product's attribute phrases and, for
  synthetic goals, one instruction with its attributes.
- ``items_human_ins.json``: ``{asin: [HumanInstruction, ...]}``: instructions written by people,
  with the attribute and option values they ask for.
- ``reviews.json`` (optional upstream): ``[ReviewRecord, ...]``.

Models allow extra keys (the real files carry many more: brand, seller_id, ...) and validate what
the shop reads, so a malformed file fails with the record and field that broke, not a KeyError deep
inside a page render.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class _Raw(BaseModel):
    model_config = ConfigDict(extra="allow")


class OptionValue(_Raw):
    value: str
    image: str | None = None


class RawProduct(_Raw):
    """One ``items_shuffle`` record."""

    asin: str
    name: str
    full_description: str = ""
    small_description: list[str] | str = Field(default_factory=list)
    pricing: str | None = None
    customization_options: dict[str, list[OptionValue] | None] | None = None
    images: list[str] = Field(default_factory=list)
    category: str
    query: str
    product_category: str = ""
    average_rating: float | str | None = None

    @field_validator("asin", mode="before")
    @classmethod
    def _asin_text(cls, v: Any) -> Any:
        return "nan" if v is None else str(v)  # upstream skips 'nan' asins; keep them skippable


class AttributeRecord(_Raw):
    """One value of ``items_ins_v2``."""

    attributes: list[str] = Field(default_factory=list)
    instruction: str | None = None
    instruction_attributes: list[str] | None = None


class HumanInstruction(_Raw):
    """One entry of an ``items_human_ins`` list."""

    instruction: str
    instruction_attributes: list[str] = Field(default_factory=list)
    instruction_options: list[str] = Field(default_factory=list)
    asin: str | None = None


class Review(_Raw):
    title: str = ""
    stars: float | int | str | None = None
    score: float | int | str | None = None
    review: str | None = None
    body: str | None = None


class ReviewRecord(_Raw):
    asin: str
    reviews: list[Review] = Field(default_factory=list)
    average_rating: float | str | None = None


class DataFormatError(ValueError):
    """A data file does not have the upstream shape; the message names the file, record and field."""


def _fail(what: str, where: str, exc: ValidationError) -> DataFormatError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return DataFormatError(f"{what}: {where}: field {loc!r}: {first['msg']} ({exc.error_count()} problem(s) in this record)")


def validate_products(records: Any, source: str = "items_shuffle") -> list[RawProduct]:
    if not isinstance(records, list):
        raise DataFormatError(f"{source}: expected a JSON list of product records, got {type(records).__name__}")
    out = []
    for i, rec in enumerate(records):
        try:
            out.append(RawProduct.model_validate(rec))
        except ValidationError as exc:
            raise _fail(source, f"record {i}", exc) from None
    return out


def validate_attributes(table: Any, source: str = "items_ins_v2") -> dict[str, AttributeRecord]:
    if not isinstance(table, dict):
        raise DataFormatError(f"{source}: expected a JSON object {{asin: record}}, got {type(table).__name__}")
    out = {}
    for asin, rec in table.items():
        try:
            out[asin] = AttributeRecord.model_validate(rec)
        except ValidationError as exc:
            raise _fail(source, f"asin {asin}", exc) from None
    return out


def validate_human(table: Any, source: str = "items_human_ins") -> dict[str, list[HumanInstruction]]:
    if not isinstance(table, dict):
        raise DataFormatError(f"{source}: expected a JSON object {{asin: [instructions]}}, got {type(table).__name__}")
    out = {}
    for asin, recs in table.items():
        if not isinstance(recs, list):
            raise DataFormatError(f"{source}: asin {asin}: expected a list of instructions, got {type(recs).__name__}")
        try:
            out[asin] = [HumanInstruction.model_validate(r) for r in recs]
        except ValidationError as exc:
            raise _fail(source, f"asin {asin}", exc) from None
    return out


def validate_reviews(records: Any, source: str = "reviews") -> list[ReviewRecord]:
    if not isinstance(records, list):
        raise DataFormatError(f"{source}: expected a JSON list of review records, got {type(records).__name__}")
    out = []
    for i, rec in enumerate(records):
        try:
            out.append(ReviewRecord.model_validate(rec))
        except ValidationError as exc:
            raise _fail(source, f"record {i}", exc) from None
    return out
