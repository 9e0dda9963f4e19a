"""Where training numbers go: ``metrics.jsonl`` always, TensorBoard and W&B when asked for.

``metrics.jsonl`` is the source of truth (the replay viewer plots it, the resume test compares
it); one JSON object per line with at least ``step``. On resume, lines past the checkpoint's step
are dropped so the file reads as if the run had never crashed.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


class MetricsLogger:
    def __init__(self, run_dir: Path, *, tensorboard: bool = True, wandb: bool = False, wandb_project: str = "turngym", config: dict[str, Any] | None = None) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tb = None
        self._wandb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
            except ImportError:
                logger.warning("tensorboard is not installed; metrics go to metrics.jsonl only (pip install tensorboard)")
        if wandb:
            try:
                import wandb as wandb_mod

                self._wandb = wandb_mod.init(project=wandb_project, config=config or {}, dir=str(run_dir))
            except ImportError:
                logger.warning("wandb was requested but is not installed (pip install wandb); skipping it")

    def truncate_after(self, step: int) -> None:
        """Drop records with ``step`` > ``step`` (used on resume)."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line.strip() and json.loads(line).get("step", -1) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, record: dict[str, Any]) -> None:
        record = {k: _clean(v) for k, v in record.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
        step = int(record.get("step", 0))
        if self._tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step":
                    self._tb.add_scalar(k, v, step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(record, step=step)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
