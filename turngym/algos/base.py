"""The estimator contract: configs with presets, validation, and the result type.

Every estimator has a config dataclass. Fields whose default depends on the preset are declared
``None`` and filled by :meth:`EstimatorConfig.resolve` from ``PRESETS`` so that a user can still
override them explicitly; the preset switch then only changes what the caller did not pin.
Bad values raise ``ValueError`` naming the allowed range, before any computation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

if TYPE_CHECKING:
    from turngym.core.table import TurnTable

Preset = Literal["paper", "reference"]
PRESET_NAMES: tuple[str, ...] = ("paper", "reference")


@dataclass
class AdvantageResult:
    """One advantage per row, optional per-row clip scale (A²TGPO), and estimator diagnostics."""

    advantage: np.ndarray
    clip_scale: np.ndarray | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)


def check_range(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    """Raise ``ValueError`` with the allowed interval when ``value`` is not a finite number in it."""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    interval = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value))
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if not ok:
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")  # noqa: TRY004 (bad input values raise ValueError, the estimator contract)


@dataclass
class EstimatorConfig:
    """Base of the config dataclasses. Subclasses set ``PRESETS`` and implement ``validate``."""

    #: preset name -> values for the fields left ``None``.
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def resolve(self, preset: str) -> EstimatorConfig:
        check_choice("preset", preset, PRESET_NAMES)
        filled = {k: v for k, v in self.PRESETS.get(preset, {}).items() if getattr(self, k) is None}
        out = dataclasses.replace(self, **filled)
        out.validate()
        return out

    def validate(self) -> None:  # pragma: no cover - every subclass overrides
        pass


@dataclass(frozen=True)
class Estimator:
    """A registry entry: the function, its config class, and the columns it reads."""

    name: str
    config: type[EstimatorConfig]
    fn: Callable[[TurnTable, Any, str], AdvantageResult]
    needs: tuple[str, ...] = ()
    summary: str = ""

    def defaults(self, preset: str = "paper") -> EstimatorConfig:
        """The config a call with no parameters uses in ``preset``."""
        return self.config().resolve(preset)

    def make_config(self, preset: str, **params: Any) -> EstimatorConfig:
        allowed = [f.name for f in dataclasses.fields(self.config)]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {unknown}; allowed: {allowed}")
        return self.config(**params).resolve(preset)

    def __call__(self, table: TurnTable, preset: str = "paper", **params: Any) -> AdvantageResult:
        cfg = self.make_config(preset, **params)
        for col in self.needs:
            table.column(col)
        return self.fn(table, cfg, preset)
