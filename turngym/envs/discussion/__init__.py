"""``Discussion-v0``: multi-agent debate and solver–critic–CEO discussions over any env with a
checkable answer, with per-(turn, agent) credit rules (see :mod:`.env` and :mod:`.credit`)."""

from turngym.envs.discussion.credit import CREDIT_RULES, maporl_credit, team_credit
from turngym.envs.discussion.env import DiscussionEnv

__all__ = ["CREDIT_RULES", "DiscussionEnv", "maporl_credit", "team_credit"]
