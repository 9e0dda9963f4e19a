"""ToolCall-v0's deterministic tools, their JSON-schema specs, and call validation.

Seven tools in four groups: ``calculator`` (arithmetic through ``ast``, no ``eval``),
``convert_units`` (length, mass, volume, temperature, time), a per-task read-only database
(``db_get``, ``db_list``) and date arithmetic (``date_add``, ``date_diff``, ``weekday``). Specs are
OpenAI/Qwen function specs (``{"type": "function", "function": {name, description, parameters}}``)
as Qwen2.5's chat template renders them inside ``<tools>``; arguments are validated against each
spec's ``parameters`` schema by a validator compiled once (``jsonschema``).

A call whose JSON or arguments break the schema is malformed (the env makes the turn invalid); a
well-formed call can still fail at run time (an unknown key, an impossible date), and then the
tool answers ``Error: ...`` like a real API would. Numbers come back in one canonical text form
(:func:`fmt_number`) so that answers compare as text.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from turngym.envs.toys.toolcalc import safe_eval

INSTALL_HINT = 'pip install "turngym[toolcall]"  (jsonschema)'

# unit -> (dimension, factor to the base unit); temperature is affine and handled apart
UNITS: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0), "km": ("length", 1000.0), "cm": ("length", 0.01), "mm": ("length", 0.001),
    "mi": ("length", 1609.344), "ft": ("length", 0.3048), "in": ("length", 0.0254), "yd": ("length", 0.9144),
    "kg": ("mass", 1.0), "g": ("mass", 0.001), "lb": ("mass", 0.45359237), "oz": ("mass", 0.028349523125),
    "l": ("volume", 1.0), "ml": ("volume", 0.001), "gal": ("volume", 3.785411784),
    "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0), "day": ("time", 86400.0),
    "C": ("temperature", 1.0), "F": ("temperature", 1.0), "K": ("temperature", 1.0),
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "A date as YYYY-MM-DD."}


def _spec(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}}}


TOOL_SPECS: tuple[dict[str, Any], ...] = (
    _spec("calculator", "Evaluate an arithmetic expression with numbers, + - * / // % and parentheses.",
          {"expression": {"type": "string", "minLength": 1, "maxLength": 200, "description": "e.g. (3 + 4.5) * 2"}}),
    _spec("convert_units", "Convert a quantity between units of the same dimension (length, mass, volume, time, temperature).",
          {"value": {"type": "number"}, "from_unit": {"type": "string", "enum": list(UNITS)},
           "to_unit": {"type": "string", "enum": list(UNITS)}}),
    _spec("db_get", "Fetch one record of a database table by its key, as JSON.",
          {"table": {"type": "string", "enum": ["products", "employees", "sensors", "shipments"]},
           "key": {"type": "string", "minLength": 1, "maxLength": 64}}),
    _spec("db_list", "List the keys of a database table.",
          {"table": {"type": "string", "enum": ["products", "employees", "sensors", "shipments"]}}),
    _spec("date_add", "Add a number of days (may be negative) to a date.",
          {"date": _DATE, "days": {"type": "integer", "minimum": -100000, "maximum": 100000}}),
    _spec("date_diff", "Number of days from start to end (negative when end is earlier).", {"start": _DATE, "end": _DATE}),
    _spec("weekday", "The day of the week of a date (Monday ... Sunday).", {"date": _DATE}),
)
TOOL_NAMES: tuple[str, ...] = tuple(s["function"]["name"] for s in TOOL_SPECS)


class ToolError(Exception):
    """A well-formed call the tool cannot answer (its message is the tool's response)."""


def fmt_number(x: float) -> str:
    """Canonical text of a number: integers plain, others to 4 decimals without trailing zeros."""
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    if not math.isfinite(x):
        raise ToolError("the result is not a finite number")
    text = f"{round(float(x), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{text!r} is not a valid date") from None


def convert(value: float, from_unit: str, to_unit: str) -> float:
    dim_a, dim_b = UNITS[from_unit][0], UNITS[to_unit][0]
    if dim_a != dim_b:
        raise ToolError(f"cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit})")
    if dim_a == "temperature":
        kelvin = {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[from_unit]
        return {"C": kelvin - 273.15, "F": (kelvin - 273.15) * 9 / 5 + 32, "K": kelvin}[to_unit]
    return value * UNITS[from_unit][1] / UNITS[to_unit][1]


def run_tool(name: str, args: Mapping[str, Any], db: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The tool's response text for a validated call (``ToolError`` for a run-time failure)."""
    if name == "calculator":
        try:
            return fmt_number(safe_eval(args["expression"]))
        except ValueError as exc:
            raise ToolError(str(exc)) from None
    if name == "convert_units":
        if abs(args["value"]) > 1e12:
            raise ToolError("value out of range")
        return fmt_number(convert(float(args["value"]), args["from_unit"], args["to_unit"]))
    if name == "db_get":
        record = db.get(args["table"], {}).get(args["key"])
        if record is None:
            raise ToolError(f"no record {args['key']!r} in table {args['table']!r}")
        return json.dumps(record, sort_keys=True)
    if name == "db_list":
        return json.dumps(sorted(db.get(args["table"], {})))
    if name == "date_add":
        try:
            return (_date(args["date"]) + dt.timedelta(days=args["days"])).isoformat()
        except OverflowError:
            raise ToolError("the date is out of range") from None
    if name == "date_diff":
        return str((_date(args["end"]) - _date(args["start"])).days)
    if name == "weekday":
        return WEEKDAYS[_date(args["date"]).weekday()]
    raise ToolError(f"unknown tool {name!r}")


def _compile_validators() -> dict[str, Callable[[Any], str | None]]:
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        raise ImportError(f"ToolCall-v0 validates tool arguments with jsonschema: {INSTALL_HINT}") from None
    out: dict[str, Callable[[Any], str | None]] = {}
    for spec in TOOL_SPECS:
        schema = spec["function"]["parameters"]
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)

        def first_error(args: Any, _v: Any = validator) -> str | None:
            err = next(iter(_v.iter_errors(args)), None)
            if err is None:
                return None
            where = ".".join(map(str, err.absolute_path))
            return f"{where + ': ' if where else ''}{err.message[:200]}"

        out[spec["function"]["name"]] = first_error
    return out


_VALIDATORS: dict[str, Callable[[Any], str | None]] | None = None


def validators() -> dict[str, Callable[[Any], str | None]]:
    """Per tool: a function returning the first schema error of some arguments, or None (compiled once)."""
    global _VALIDATORS
    if _VALIDATORS is None:
        _VALIDATORS = _compile_validators()
    return _VALIDATORS
