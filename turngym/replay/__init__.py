"""The replay debugger: a local web app over a run's episode store (``turngym replay RUN_DIR``).

Layers: ``run`` (what a run directory holds: store, metrics, config, tokenizer), ``views`` (episode
and group views computed from records: token strings, GiGPO anchor groups), ``rerun`` (re-executing
recorded actions in a fresh env, branching), ``app`` (the FastAPI JSON API + the static page),
``render`` (terminal text and self-contained HTML export).
"""

from turngym.replay.app import create_app
from turngym.replay.run import RunDir

__all__ = ["RunDir", "create_app"]
