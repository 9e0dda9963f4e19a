"""Search-augmented QA (Search-R1 protocol) over generated multi-hop corpora or real wiki-18 data.

Importing this package is light: ``bm25s`` (the ``search`` extra) is imported when a retriever is
built, and a missing extra raises an ImportError naming ``pip install "turngym[search]"``.

- :mod:`.world`: a seeded world of fictional entities with typed relations;
- :mod:`.corpus`: passages rendered in wiki-18 jsonl format, fact parsing, jsonl corpora on disk;
- :mod:`.questions`: 1-hop, bridge, comparison and composed questions with supporting passages;
- :mod:`.retrieval`: BM25 (bm25s), dense (MiniLM) and HTTP retrievers; :mod:`.server`: the
  Search-R1 ``/retrieve`` API; :mod:`.dataset`: where an env's data comes from;
- :mod:`.reward`: EM / F1 / format-shaped rewards (``exact_match`` is the public answer check);
- :mod:`.env`: ``SearchQA-v0`` and its oracle; :mod:`.prompts`: the Search-R1 instruction.
"""

from turngym.envs.searchqa.env import INVALID_MESSAGE, SearchQAEnv
from turngym.envs.searchqa.reward import exact_match, f1_score, normalize_answer

__all__ = ["INVALID_MESSAGE", "SearchQAEnv", "exact_match", "f1_score", "normalize_answer"]
