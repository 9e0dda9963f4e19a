"""ToolCall-v0's generated tasks: a small database, a question, the gold call trace and the answer.

Each task draws its own database (four tables of a few records each) and a question template that
needs two to four calls, each feeding the next (look a record up, compute with its fields, convert
or shift a date). The gold trace is built by running the real tools on the real database, so the
oracle that replays it gets the gold answer through the env's own tool path, and the answer is the
text the last tool returned. ``(GENERATOR_VERSION, split, index)`` pins a task on every machine.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from turngym.envs.base import seeded_rng, check_choice
from turngym.envs.toolcall.tools import run_tool

GENERATOR_VERSION = "1"
SPLITS = ("train", "test")
TASKS_PER_SPLIT = {"train": 5000, "test": 500}
_NAMES = ("ada", "bo", "cyd", "dee", "eli", "fay", "gus", "hal", "ivy", "jon", "kim", "lou", "max", "nia", "oto", "pam")
_ITEMS = ("lamp", "kettle", "drill", "chair", "tent", "scale", "radio", "helmet", "mixer", "printer", "stool", "clock")
_CITIES = ("Oslo", "Lima", "Pune", "Graz", "Kobe", "Cork", "Tartu", "Perth")


@dataclass(frozen=True)
class ToolTask:
    task_id: str
    question: str
    db: dict[str, dict[str, dict[str, Any]]]
    #: ``[{"name", "arguments"}]``: what MatchTIR matches the agent's calls against.
    gold_calls: tuple[dict[str, Any], ...]
    answer: str
    template: str


def _date(rng: np.random.Generator) -> str:
    return (dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 2200)))).isoformat()


def _database(rng: np.random.Generator) -> dict[str, dict[str, dict[str, Any]]]:
    n = 5
    products = {}
    for code in rng.choice(900, size=n, replace=False) + 100:
        products[f"P-{code}"] = {"name": str(rng.choice(_ITEMS)), "price_usd": round(float(rng.integers(199, 9999)) / 100, 2),
                                 "weight_lb": round(float(rng.integers(5, 400)) / 10, 1), "stock": int(rng.integers(0, 60))}
    names = rng.choice(_NAMES, size=n, replace=False)
    employees = {str(name): {"start_date": _date(rng), "city": str(rng.choice(_CITIES)), "probation_days": int(rng.choice([30, 60, 90, 120]))}
                 for name in names}
    sensors = {f"S-{c}": {"temp_c": round(float(rng.integers(-300, 450)) / 10, 1), "location": str(rng.choice(_CITIES))}
               for c in rng.choice(90, size=n, replace=False) + 10}
    shipments = {f"SH-{c}": {"distance_mi": int(rng.integers(20, 3000)), "ship_date": _date(rng), "transit_days": int(rng.integers(1, 30))}
                 for c in rng.choice(900, size=n, replace=False) + 100}
    return {"products": products, "employees": employees, "sensors": sensors, "shipments": shipments}


class _Trace:
    """Runs gold calls on the task's database, recording them and returning their results."""

    def __init__(self, db: dict[str, Any]) -> None:
        self.db, self.calls = db, []

    def __call__(self, name: str, **arguments: Any) -> str:
        self.calls.append({"name": name, "arguments": arguments})
        return run_tool(name, arguments, self.db)

    def record(self, table: str, key: str) -> dict[str, Any]:
        return json.loads(self(("db_get"), table=table, key=key))


def _num(text: str) -> int | float:
    """A tool's numeric response as the number an agent passes on (JSON: 40 or 37.5)."""
    return json.loads(text)


def _t_weight_kg(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    key = str(rng.choice(sorted(t.db["products"])))
    rec = t.record("products", key)
    return f"How many kilograms does one unit of product {key} weigh?", t("convert_units", value=rec["weight_lb"], from_unit="lb", to_unit="kg")


def _t_order_price(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    key, n = str(rng.choice(sorted(t.db["products"]))), int(rng.integers(2, 13))
    rec = t.record("products", key)
    return f"What do {n} units of product {key} cost in US dollars?", t("calculator", expression=f"{n} * {rec['price_usd']}")


def _t_budget(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    key, budget = str(rng.choice(sorted(t.db["products"]))), int(rng.integers(50, 1000))
    rec = t.record("products", key)
    return (f"How many whole units of product {key} can be bought with {budget} US dollars?",
            t("calculator", expression=f"{budget} // {rec['price_usd']}"))


def _t_probation(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    name = str(rng.choice(sorted(t.db["employees"])))
    rec = t.record("employees", name)
    return f"On which date does the probation of employee {name} end (start date plus probation days)?", t(
        "date_add", date=rec["start_date"], days=rec["probation_days"])


def _t_start_gap(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    a, b = (str(x) for x in rng.choice(sorted(t.db["employees"]), size=2, replace=False))
    ra, rb = t.record("employees", a), t.record("employees", b)
    return f"How many days after employee {a} did employee {b} start (negative if earlier)?", t(
        "date_diff", start=ra["start_date"], end=rb["start_date"])


def _t_sensor_f(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    key = str(rng.choice(sorted(t.db["sensors"])))
    rec = t.record("sensors", key)
    return f"What temperature does sensor {key} read, in degrees Fahrenheit?", t("convert_units", value=rec["temp_c"], from_unit="C", to_unit="F")


def _t_arrival(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    key = str(rng.choice(sorted(t.db["shipments"])))
    rec = t.record("shipments", key)
    return f"On which date does shipment {key} arrive (ship date plus transit days)?", t("date_add", date=rec["ship_date"], days=rec["transit_days"])


def _t_arrival_weekday(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    key = str(rng.choice(sorted(t.db["shipments"])))
    rec = t.record("shipments", key)
    arrival = t("date_add", date=rec["ship_date"], days=rec["transit_days"])
    return f"On which day of the week does shipment {key} arrive (ship date plus transit days)?", t("weekday", date=arrival)


def _t_trips_km(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    key, trips = str(rng.choice(sorted(t.db["shipments"]))), int(rng.integers(2, 9))
    rec = t.record("shipments", key)
    miles = t("calculator", expression=f"{trips} * {rec['distance_mi']}")
    return (f"Shipment {key}'s route is driven {trips} times. How many kilometres is that in total?",
            t("convert_units", value=_num(miles), from_unit="mi", to_unit="km"))


def _t_pair_weight(rng: np.random.Generator, t: _Trace) -> tuple[str, str]:
    a, b = (str(x) for x in rng.choice(sorted(t.db["products"]), size=2, replace=False))
    ra, rb = t.record("products", a), t.record("products", b)
    pounds = t("calculator", expression=f"{ra['weight_lb']} + {rb['weight_lb']}")
    return (f"How many kilograms do one unit of product {a} and one of product {b} weigh together?",
            t("convert_units", value=_num(pounds), from_unit="lb", to_unit="kg"))


TEMPLATES: dict[str, Callable[[np.random.Generator, _Trace], tuple[str, str]]] = {
    "weight_kg": _t_weight_kg, "order_price": _t_order_price, "budget": _t_budget, "probation": _t_probation,
    "start_gap": _t_start_gap, "sensor_f": _t_sensor_f, "arrival": _t_arrival, "arrival_weekday": _t_arrival_weekday,
    "trips_km": _t_trips_km, "pair_weight": _t_pair_weight,
}
_PREFIX = f"toolcall-v{GENERATOR_VERSION}"


def task_ids(split: str) -> list[str]:
    return list(split_task_ids(split))


@functools.cache
def split_task_ids(split: str) -> tuple[str, ...]:
    """Every task id of a split (cached: a reset draws from it)."""
    check_choice("split", split, SPLITS)
    return tuple(f"{_PREFIX}-{split}-{i}" for i in range(TASKS_PER_SPLIT[split]))


@functools.lru_cache(maxsize=8192)
def load_task(task_id: str) -> ToolTask:
    """The task behind ``toolcall-v1-<split>-<index>``."""
    parts = task_id.split("-") if isinstance(task_id, str) else []
    try:
        if len(parts) != 4 or "-".join(parts[:2]) != _PREFIX or parts[2] not in SPLITS:
            raise ValueError
        index = int(parts[3])
        if not 0 <= index < TASKS_PER_SPLIT[parts[2]]:
            raise ValueError
    except ValueError:
        raise ValueError(f"malformed ToolCall-v0 task id {task_id!r} (expected {_PREFIX}-<split>-<index>)") from None
    rng = seeded_rng("toolcall", GENERATOR_VERSION, parts[2], index)
    db = _database(rng)
    names = sorted(TEMPLATES)
    template = names[int(rng.integers(len(names)))]
    trace = _Trace(db)
    question, answer = TEMPLATES[template](rng, trace)
    return ToolTask(task_id, question, db, tuple(trace.calls), answer, template)
