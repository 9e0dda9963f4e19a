"""What a run directory holds, opened once per viewer: the episode store, ``metrics.jsonl``, the
run config (for γ), and a tokenizer to turn ``response_token_ids`` into readable token strings.

Everything here is read lazily and cached because the viewer is long-lived and the files are
written by a trainer that may still be running (metrics are re-read on each request).
"""

from __future__ import annotations

import json
import math
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from turngym.store import EpisodeStore

DEFAULT_GAMMA = 0.95
_GAMMA_KEYS = ("gamma", "discount", "step_gamma")


def _find_key(tree: Any, keys: tuple[str, ...]) -> Any:
    """First value under one of ``keys`` anywhere in a nested config (top level wins)."""
    if isinstance(tree, dict):
        for key in keys:
            if key in tree:
                return tree[key]
        for value in tree.values():
            found = _find_key(value, keys)
            if found is not None:
                return found
    return None


def _valid_gamma(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if 0.0 <= value <= 1.0 else None


class RunDir:
    """A run directory opened for viewing (and for appending branches)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no run directory or store at {self.path}")
        self.readonly = readonly
        self.store = EpisodeStore(self.path, readonly=readonly)
        self.root = self.path if self.path.is_dir() else self.path.parent
        self._tok_lock = threading.Lock()
        self._tokenizer: Any = None
        self._tokenizer_loaded = False

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Rows of ``metrics.jsonl`` (one per training step) and messages about skipped lines.

        Re-read on every call: a trainer appends to it while the viewer is open. Non-finite numbers
        become ``None`` so that the JSON response stays standard.
        """
        path = self.root / "metrics.jsonl"
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        if not path.is_file():
            return rows, problems
        with path.open(encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.append(f"metrics.jsonl line {lineno}: {exc.msg}")
                    continue
                if not isinstance(row, dict):
                    problems.append(f"metrics.jsonl line {lineno}: not a JSON object")
                    continue
                rows.append({k: _finite_or_none(v) for k, v in row.items()})
        return rows, problems

    # ------------------------------------------------------------------ config
    @cached_property
    def config(self) -> dict[str, Any]:
        """``RUN_DIR/config.yaml`` (or ``.json``) if present, else {}."""
        for name in ("config.yaml", "config.yml", "config.json"):
            path = self.root / name
            if path.is_file():
                try:
                    if name.endswith(".json"):
                        data = json.loads(path.read_text())
                    else:
                        import yaml

                        data = yaml.safe_load(path.read_text())
                except Exception:  # noqa: BLE001  (a broken config must not take the viewer down)
                    return {}
                return data if isinstance(data, dict) else {}
        return {}

    def gamma(self, run_id: str | None = None) -> tuple[float, str]:
        """γ for GiGPO step returns and where it came from (config file, store run config, default)."""
        value = _valid_gamma(_find_key(self.config, _GAMMA_KEYS))
        if value is not None:
            return value, "config.yaml"
        for run in self.store.runs():
            if run_id is None or run.run_id == run_id:
                value = _valid_gamma(_find_key(run.config, _GAMMA_KEYS))
                if value is not None:
                    return value, f"store run config ({run.run_id})"
        return DEFAULT_GAMMA, "default"

    # ------------------------------------------------------------------ tokenizer & checkpoints
    def _candidate_dirs(self) -> list[Path]:
        """``RUN_DIR/policy`` then ``RUN_DIR/checkpoints/*`` (newest first)."""
        found = []
        policy = self.root / "policy"
        if policy.is_dir():
            found.append(policy)
        ckpts = self.root / "checkpoints"
        if ckpts.is_dir():
            subs = [p for p in ckpts.iterdir() if p.is_dir()]
            found.extend(
                sorted(subs, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
            )
        return found

    def checkpoints(self) -> dict[str, Path]:
        """Policy checkpoints (directories holding an HF ``config.json``), by name relative to the run."""
        return {
            str(p.relative_to(self.root)): p
            for p in self._candidate_dirs()
            if (p / "config.json").is_file()
        }

    def tokenizer_dir(self) -> Path | None:
        """``policy/`` first, else the newest checkpoint, holding a ``tokenizer.json``."""
        for path in self._candidate_dirs():
            if (path / "tokenizer.json").is_file():
                return path
        return None

    def tokenizer(self) -> Any:
        """A ``transformers`` tokenizer for the run, or None (then the page shows token ids)."""
        with self._tok_lock:
            if not self._tokenizer_loaded:
                self._tokenizer_loaded = True
                path = self.tokenizer_dir()
                if path is not None:
                    try:
                        from transformers import AutoTokenizer

                        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
                        self._tokenizer.name_or_path = str(path)
                    except Exception:  # noqa: BLE001  (no usable tokenizer: the page shows token ids)
                        self._tokenizer = None
            return self._tokenizer

    def decode_tokens(self, ids: list[int] | None) -> list[str] | None:
        """One display string per token id (decoded one at a time, so spans line up with ids)."""
        if not ids:
            return None
        tok = self.tokenizer()
        if tok is None:
            return None
        vocab = len(tok)
        return [tok.decode([i]) if 0 <= i < vocab else f"<{i}?>" for i in ids]


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
