"""The ``reference`` presets against cases computed by running the official code.

The cases live in ``tests/algos/golden/`` (a copy of ``shared/golden/``, whose README gives the
provenance and the exact semantics of each official function). When the shared folder sits beside
the checkout (``../shared/golden``), its cases are checked too, so a larger set dropped there is
picked up without a change here. Each case is one test id, so a failure names the case.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from turngym.algos import TurnTable, compute_advantages, estimators
from turngym.algos.matchtir import turn_rewards

HERE = Path(__file__).resolve().parent
SOURCES = [HERE / "golden", HERE.parents[2] / "shared" / "golden"]
#: file stem -> estimator name
ESTIMATOR_OF = {"gigpo": "gigpo", "grpo_steprows": "grpo", "matchtir": "matchtir", "a2tgpo": "a2tgpo", "oprl": "oprl"}


def _load_cases() -> list[tuple[str, str, dict]]:
    seen: dict[tuple[str, str], dict] = {}
    for src in SOURCES:
        if not src.is_dir():
            continue
        for path in sorted(src.glob("*.json")):
            if path.stem not in ESTIMATOR_OF and path.stem != "matchtir_rewards":
                continue  # e.g. quirks_informational.json: not golden by design
            for case in json.loads(path.read_text()):
                seen.setdefault((path.stem, case["name"]), case)
    return [(stem, name, case) for (stem, name), case in sorted(seen.items())]


CASES = _load_cases()
ADVANTAGE_CASES = [c for c in CASES if c[0] != "matchtir_rewards"]
REWARD_CASES = [c for c in CASES if c[0] == "matchtir_rewards"]


def _close(got: float, exp: float, rel: float) -> bool:
    return abs(got - exp) <= rel * max(1.0, abs(exp))


def _table(raw: dict) -> TurnTable:
    cols = dict(raw)
    if "info_gain" in cols:
        cols["info_gain"] = [math.nan if v is None else v for v in cols["info_gain"]]
    return TurnTable(**cols)


def _report(name: str, what: str, got, exp, rel: float) -> None:
    got, exp = np.asarray(got, dtype=np.float64), np.asarray(exp, dtype=np.float64)
    assert got.shape == exp.shape, f"{name}: {what} has {got.shape} values, expected {exp.shape}"
    bad = [i for i, (g, e) in enumerate(zip(got, exp)) if not _close(float(g), float(e), rel)]
    assert not bad, (
        f"{name}: {what} differs from the official code at rows {bad}\n"
        f"  got      {np.round(got, 6).tolist()}\n  expected {np.round(exp, 6).tolist()}"
    )


def test_golden_cases_are_present():
    files = {stem for stem, _, _ in CASES}
    assert files == {*ESTIMATOR_OF, "matchtir_rewards"}
    assert len(CASES) >= 72


@pytest.mark.parametrize(("stem", "name", "case"), ADVANTAGE_CASES, ids=[f"{s}/{n}" for s, n, _ in ADVANTAGE_CASES])
def test_reference_preset_equals_official_code(stem, name, case):
    est = ESTIMATOR_OF[stem]
    result = compute_advantages(est, _table(case["table"]), preset="reference", **case["params"])
    _report(f"{stem}/{name}", "advantage", result.advantage, case["expected"]["advantage"], 1e-4)
    if "clip_scale" in case["expected"]:
        assert result.clip_scale is not None, f"{stem}/{name}: no clip_scale returned"
        _report(f"{stem}/{name}", "clip_scale", result.clip_scale, case["expected"]["clip_scale"], 1e-4)


@pytest.mark.parametrize(("stem", "name", "case"), REWARD_CASES, ids=[f"{s}/{n}" for s, n, _ in REWARD_CASES])
def test_matchtir_turn_rewards_equal_official_code(stem, name, case):
    params = dict(case["params"])
    inputs = case["inputs"]
    mode = params.pop("mode")
    got = turn_rewards(inputs["pred_turns"], inputs["gold"], assignment=mode, preset="reference", answer=inputs.get("answer"), **params)
    _report(f"{stem}/{name}", "turn_rewards", got, case["expected"]["turn_rewards"], 1e-6 if mode == "ot" else 1e-9)


@pytest.mark.parametrize("stem", sorted(ESTIMATOR_OF))
def test_every_case_parameter_is_a_documented_config_field(stem):
    """Each key in a case's params is a field of the estimator's config, named in its docstring."""
    import dataclasses

    cfg = estimators[ESTIMATOR_OF[stem]].config
    fields = {f.name for f in dataclasses.fields(cfg)}
    doc = cfg.__doc__ or ""
    for _, _, case in (c for c in ADVANTAGE_CASES if c[0] == stem):
        for key in case["params"]:
            assert key in fields, f"{stem}: {key!r} is not a parameter of {cfg.__name__}"
            assert f"``{key}``" in doc, f"{cfg.__name__} docstring does not document {key!r}"
