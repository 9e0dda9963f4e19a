"""The episode record and its columnar view; every layer shares these, none owns them."""

from turngym.core.episode import Episode, Turn, new_id, summarize
from turngym.core.table import TurnTable

__all__ = ["Episode", "Turn", "TurnTable", "new_id", "summarize"]
