"""Loading a policy checkpoint of the run as an agent that can continue a branch.

The agent is built the way the trainer built its rollout agent (``turngym.train.policy.make_llm_agent``
with the ``policy:`` section of the run's config: template, projection, layout, history, sampling),
so a branch samples from the same prompt format the checkpoint was trained on. The LLM agent and the
HF backend live in other areas; their absence or a broken checkpoint becomes a clear API error.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

#: Keys of the trainer's ``policy:`` config section that shape the agent.
_AGENT_KEYS = (
    "template",
    "projection",
    "layout",
    "concat_reply",
    "history_k",
    "max_new_tokens",
    "max_prompt_tokens",
    "temperature",
    "top_p",
)
_DEFAULTS: dict[str, Any] = {"max_new_tokens": 16}


class PolicyUnavailable(RuntimeError):
    """Branching from a policy is not possible in this installation (a 501 for the API)."""


class PolicyLoadError(RuntimeError):
    """The checkpoint exists but could not be loaded (a 422 for the API)."""


_cache: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def agent_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The agent kwargs from a run config (its ``policy`` section), over small defaults."""
    section = config.get("policy") if isinstance(config, dict) else None
    section = section if isinstance(section, dict) else {}
    return {**_DEFAULTS, **{k: section[k] for k in _AGENT_KEYS if k in section}}


def load_agent(path: Path, *, env_id: str, config: dict[str, Any] | None = None) -> Any:
    """An agent (rollout ``Agent`` protocol) sampling from the checkpoint at ``path``; cached."""
    try:
        from turngym.agents.backends.hf import HFBackend
        from turngym.agents.llm import LLMAgent
    except ImportError as exc:
        raise PolicyUnavailable(
            f"branching from a policy needs turngym.agents.llm.LLMAgent and turngym.agents.backends.hf.HFBackend, "
            f"which are not available here ({exc}); branch with a typed action instead"
        ) from exc
    settings = agent_settings(config or {})
    key = (str(path.resolve()), json.dumps(settings, sort_keys=True, default=str))
    with _lock:
        if key not in _cache:
            try:
                import torch

                torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
                backend = HFBackend.from_pretrained(key[0])
                try:
                    from turngym.train.policy import make_llm_agent
                except ImportError:
                    make_llm_agent = None
                if make_llm_agent is not None:
                    agent = make_llm_agent(backend, env_id=env_id, **settings)
                else:
                    from turngym.agents.backends.base import SamplingParams

                    sampling = SamplingParams(
                        max_new_tokens=int(settings.pop("max_new_tokens"))
                    )
                    for name in ("temperature", "top_p"):
                        if name in settings:
                            sampling = type(sampling)(
                                **{**sampling.__dict__, name: settings.pop(name)}
                            )
                    agent = LLMAgent(backend, sampling=sampling, **settings)
            except Exception as exc:
                raise PolicyLoadError(
                    f"cannot load policy checkpoint {path}: {type(exc).__name__}: {exc}"
                ) from exc
            _cache[key] = agent
        return _cache[key]
