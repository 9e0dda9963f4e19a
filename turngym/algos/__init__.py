"""Turn-level credit assignment: estimators over a :class:`TurnTable`, and the policy losses.

``compute_advantages(name, table, preset=...)`` is the entry point; ``estimators`` lists every
estimator with its config dataclass. Reward-side pieces live in their modules
(:mod:`~turngym.algos.matchtir`, :mod:`~turngym.algos.info_gain`, :mod:`~turngym.algos.oprl`,
:mod:`~turngym.algos.entropy`) and the torch losses in :mod:`~turngym.algos.losses`; the torch
modules are not imported here, so estimators work without torch.
"""

from turngym.algos.base import AdvantageResult, Estimator, EstimatorConfig
from turngym.algos.registry import compute_advantages, estimators
from turngym.core.table import TurnTable

__all__ = ["AdvantageResult", "Estimator", "EstimatorConfig", "TurnTable", "compute_advantages", "estimators"]
