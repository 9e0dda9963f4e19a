"""ALFWorld on the real TextWorld engine: generated pinned task sets, real-data loader, prompts.

Importing this package never imports alfworld/textworld (the ``alfworld`` extra is optional); the
engine is loaded when an env is made or a game is generated, and a missing extra raises an
ImportError naming ``bash scripts/install_alfworld.sh``.

- :mod:`.engine`: one PDDL engine per env, memoized PDDL→SAS, the installed domain/grammar.
- :mod:`.expert`: ALFWorld's handcoded expert with the put fix and seeded randomness.
- :mod:`.generator`: games from the wheel's floor plans; :mod:`.tasks`: pinned splits, cache,
  real ``json_2.1.1`` folders.
- :mod:`.env`: ``ALFWorld-v0``; :mod:`.prompts`: verl-agent and ReAct templates.
"""

from turngym.envs.alfworld.engine import INSTALL_HINT, TASK_TYPES, require_alfworld
from turngym.envs.alfworld.env import ALFWorldEnv

__all__ = ["INSTALL_HINT", "TASK_TYPES", "ALFWorldEnv", "require_alfworld"]
