"""Acceptance sweeps (slow): the expert on generated and the 140 real games, within 200 turns.

The same table is printed by ``turngym alfworld stats --expert-eval`` (see the module docstring of
``turngym.envs.alfworld.evaluate``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("alfworld", reason="the alfworld extra is not installed (bash scripts/install_alfworld.sh)")

from turngym.envs.alfworld.evaluate import expert_sweep, expert_table
from turngym.envs.alfworld.tasks import TaskSet, load_games_dir

pytestmark = pytest.mark.slow


def test_expert_on_300_generated_games_before_certification(tmp_path) -> None:
    # The same table is printed by `turngym alfworld stats --split train --n 300 --expert-eval --raw --expert-seed 0`.
    ts = TaskSet("train", cache_dir=tmp_path)
    results = expert_sweep((ts.uncertified(i) for i in range(300)), seed=0)
    rooms = {r.room for r in results}
    assert rooms == {"Kitchen", "LivingRoom", "Bedroom", "Bathroom"}
    table = {row["task_type"]: row for row in expert_table(results)}
    assert len(table) == 7  # six types + all
    assert table["all"]["win_rate"] >= 0.99


def test_expert_on_140_real_valid_seen_games(real_data_dir) -> None:
    results = expert_sweep(load_games_dir(real_data_dir), seed=1)
    table = {row["task_type"]: row for row in expert_table(results)}
    assert table["all"]["games"] == 140 and table["all"]["win_rate"] >= 0.98
