"""The trainer: rollout → advantages → update → sync → eval, with checkpoints and resume."""

from turngym.train.config import ConfigError, TrainConfig, load_config

__all__ = ["ConfigError", "TrainConfig", "load_config"]
