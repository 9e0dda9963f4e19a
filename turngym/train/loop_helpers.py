"""Batch and run-directory helpers of the training loop: filters applied to a step's episodes
(DAPO's flat groups, SimpleTIR's void trajectories) and the clean-up of a start that died before
its first checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

from turngym.core.episode import Episode


def mask_void_episodes(episodes: list[Episode]) -> int:
    """SimpleTIR's trajectory filter: an episode with a void turn (a response that neither ran code
    nor answered, ``info["void_turn"]``) gets zero advantage on every turn, so it takes no part in
    the update (it still counted in its group's baseline, as computed before the filter)."""
    n = 0
    for ep in episodes:
        if any(t.info.get("void_turn") for t in ep.turns):
            n += 1
            for t in ep.turns:
                t.advantage = [0.0] * len(t.advantage) if isinstance(t.advantage, list) else 0.0
    return n


#: What a start writes before its first checkpoint (and a failed start leaves behind).
_START_FILES = ("metrics.jsonl", "run.json", "config.yaml", "episodes.db", "episodes.db-wal", "episodes.db-shm")
_START_DIRS = ("tensorboard", "init_model", "sync_adapter")


def clear_failed_start(run_dir: Path) -> None:
    for name in _START_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for name in _START_DIRS:
        shutil.rmtree(run_dir / name, ignore_errors=True)


def drop_flat_groups(episodes: list[Episode]) -> list[Episode]:
    """DAPO dynamic sampling: groups whose outcomes are all equal carry no signal."""
    by_group: dict[str | None, list[Episode]] = {}
    for e in episodes:
        by_group.setdefault(e.group_id, []).append(e)
    return [e for g in by_group.values() if len({x.outcome_reward for x in g}) > 1 for e in g]
