"""The agent/prompt settings a policy was trained with, stored next to its weights.

A checkpoint's weights alone do not say how to prompt them: a policy trained on the ``compact``
template with no history and 6 new tokens scores 0 when rolled out with the generic defaults. So
every checkpoint (and HF export) carries ``turngym_agent.json`` with the settings that shaped its
training prompts, and ``turngym rollout --policy DIR`` uses them unless a flag overrides one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AGENT_SETTINGS_FILE = "turngym_agent.json"

#: The keys that decide how a policy is prompted and how its replies are read.
AGENT_KEYS = ("template", "projection", "layout", "concat_reply", "history_k", "max_new_tokens", "max_prompt_tokens", "stop")


def write_agent_settings(model_dir: str | Path, settings: dict[str, Any]) -> Path:
    """Write the prompting settings (``AGENT_KEYS`` plus any context such as ``env_id``)."""
    path = Path(model_dir) / AGENT_SETTINGS_FILE
    path.write_text(json.dumps(settings, indent=2, sort_keys=True))
    return path


def read_agent_settings(model_dir: str | Path) -> dict[str, Any]:
    """The settings a model directory was trained with; ``{}`` for a model without them (a base
    model or an older checkpoint). A corrupt file is an error, not a silent fallback to defaults."""
    path = Path(model_dir) / AGENT_SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); delete it or fix it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object of agent settings")
    return data
