"""Where an env's corpus, retriever and questions come from, loaded once per process.

Three sources, one result (:class:`SearchData`):

- a generated world: ``size`` and ``seed`` (the default; everything is built in memory, the BM25
  index in about a second for the ``small`` world);
- a built directory (``index_dir``), written by ``turngym search build``: ``corpus.jsonl``,
  ``bm25/`` (memory-mapped), optionally ``dense/``, and ``questions/<split>.jsonl``;
- a real corpus (``corpus_path``, wiki-18 jsonl) with real questions (``questions_path``: a
  FlashRAG/Search-R1 jsonl file, ``{"id", "question", "golden_answers"}`` per line, or a folder of
  ``<split>.jsonl`` files).

Any of them can take its results from a remote ``/retrieve`` server instead (``retriever_url``).
Envs in one process (a vector env's slots) share one ``SearchData`` through :func:`load_data`.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turngym.envs.searchqa.corpus import Corpus, CorpusFormatError, JsonlCorpus, render_corpus
from turngym.envs.searchqa.questions import SPLITS, Question, generate_questions
from turngym.envs.searchqa.retrieval import BM25Retriever, DenseRetriever, HTTPRetriever, Retriever, RetrieverError
from turngym.envs.searchqa.world import GENERATOR_VERSION, build_world, world_size

DIR_FORMAT = "turngym-searchqa"


@dataclass
class SearchData:
    name: str  # task-id prefix, e.g. "v1-s0-p400" or "file-nq"
    corpus: Corpus
    retriever: Retriever
    questions: dict[str, list[Question]]
    meta: dict[str, Any] = field(default_factory=dict)
    _id_index: dict[str, int] | None = None

    def index_of(self, doc_id: str) -> int | None:
        """Corpus position of a passage id (generated corpora: the id is the position)."""
        if self._id_index is None:
            if self.meta.get("ids_are_positions"):
                return int(doc_id) if doc_id.isdigit() and int(doc_id) < len(self.corpus) else None
            self._id_index = {self.corpus.doc_id(i): i for i in range(len(self.corpus))}
        return self._id_index.get(doc_id)


_CACHE: dict[tuple[Any, ...], SearchData] = {}
_LOCK = threading.Lock()


def load_data(
    *,
    size: str | int = "small",
    seed: int = 0,
    index_dir: str | os.PathLike[str] | None = None,
    corpus_path: str | os.PathLike[str] | None = None,
    questions_path: str | os.PathLike[str] | None = None,
    retriever: str = "bm25",
    retriever_url: str | None = None,
    dense_model: str | None = None,
) -> SearchData:
    """The (cached) data of one env configuration; see the module docstring for the sources."""
    if retriever not in ("bm25", "dense"):
        raise ValueError(f"retriever must be 'bm25' or 'dense' (or give retriever_url=), got {retriever!r}")
    if corpus_path is not None and index_dir is not None:
        raise ValueError("give either index_dir (a built directory) or corpus_path (a jsonl corpus), not both")
    if questions_path is not None and corpus_path is None and index_dir is None and retriever_url is None:
        raise ValueError("questions_path needs the corpus they were written for: corpus_path=, index_dir= or retriever_url=")
    key = (os.fspath(index_dir) if index_dir else None, os.fspath(corpus_path) if corpus_path else None,
           os.fspath(questions_path) if questions_path else None, world_size(size) if not (index_dir or corpus_path or questions_path) else None,
           seed, retriever, retriever_url, dense_model)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(size, seed, index_dir, corpus_path, questions_path, retriever, retriever_url, dense_model)
        return _CACHE[key]


def _load(size: str | int, seed: int, index_dir: Any, corpus_path: Any, questions_path: Any, retriever: str, retriever_url: str | None, dense_model: str | None) -> SearchData:
    if index_dir is not None:
        directory = Path(index_dir)
        meta_file = directory / "meta.json"
        if not meta_file.exists():
            raise FileNotFoundError(f"{directory} is not a search directory (no meta.json); build one with `turngym search build --out {directory}`")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != DIR_FORMAT:
            raise ValueError(f"{meta_file} is not a {DIR_FORMAT} directory")
        corpus: Corpus = JsonlCorpus(directory / "corpus.jsonl")
        questions = load_questions(questions_path or directory / "questions")
        if retriever_url:
            ret: Retriever = HTTPRetriever(retriever_url)
        elif retriever == "dense":
            ret = DenseRetriever.load(directory, corpus, model_path=dense_model)
        else:
            ret = BM25Retriever.load(directory, corpus)
        return SearchData(meta.get("name", directory.name), corpus, ret, questions, meta)
    if corpus_path is not None or (questions_path is not None and retriever_url is not None):
        if questions_path is None:
            raise ValueError("a real corpus needs its questions: questions_path= (FlashRAG jsonl with question/golden_answers)")
        questions = load_questions(questions_path)
        corpus = JsonlCorpus(corpus_path) if corpus_path is not None else _NoCorpus()
        if retriever_url:
            ret = HTTPRetriever(retriever_url)
        elif retriever == "dense":
            ret = DenseRetriever.build(corpus, model_path=dense_model)
        else:
            ret = BM25Retriever.build(corpus)
        return SearchData(f"file-{Path(questions_path).stem}", corpus, ret, questions, {"source": "jsonl"})
    world = build_world(size, seed)
    generated = render_corpus(world)
    questions = generate_questions(generated)
    if retriever_url:
        ret = HTTPRetriever(retriever_url)
    elif retriever == "dense":
        ret = DenseRetriever.build(generated, model_path=dense_model)
    else:
        ret = BM25Retriever.build(generated)
    return SearchData(world.key, generated, ret, questions, {"source": "generated", "ids_are_positions": True, "version": GENERATOR_VERSION})


class _NoCorpus:
    """Stands in for a corpus that lives only behind a remote retriever."""

    def __len__(self) -> int:
        return 0

    def doc_id(self, index: int) -> str:
        raise IndexError(index)

    def contents(self, index: int) -> str:
        raise IndexError(index)

    def iter_contents(self):  # type: ignore[no-untyped-def]
        return iter(())


def load_questions(path: str | os.PathLike[str]) -> dict[str, list[Question]]:
    """Questions by split from a jsonl file (every split gets it) or a folder of ``<split>.jsonl``."""
    path = Path(path)
    if path.is_dir():
        found = {s: _read_questions(path / f"{s}.jsonl") for s in SPLITS if (path / f"{s}.jsonl").exists()}
        if not found:
            raise FileNotFoundError(f"{path} holds none of {', '.join(s + '.jsonl' for s in SPLITS)}")
        return found
    if not path.exists():
        raise FileNotFoundError(f"questions file {path} does not exist")
    records = _read_questions(path)
    return {s: records for s in SPLITS}


def _read_questions(path: Path) -> list[Question]:
    out: list[Question] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                answers = obj.get("golden_answers", obj.get("answers", obj.get("answer")))
                if isinstance(answers, str):
                    answers = [answers]
                if not obj.get("question") or not answers:
                    raise KeyError("question/golden_answers")
                out.append(
                    Question(
                        str(obj.get("id", n - 1)), str(obj["question"]), tuple(str(a) for a in answers), str(obj.get("kind", "external")),
                        dict(obj.get("program") or {}), tuple(str(x) for x in obj.get("supporting", ())),
                        tuple((str(t), str(h)) for t, h in obj.get("search_plan", ())),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise CorpusFormatError(f"{path}:{n}: not a question record with 'question' and 'golden_answers' ({exc})") from None
    if not out:
        raise CorpusFormatError(f"{path} holds no questions")
    return out


def write_questions(questions: dict[str, list[Question]], directory: str | os.PathLike[str]) -> dict[str, int]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, items in questions.items():
        with open(directory / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for q in items:
                f.write(json.dumps(q.to_json(), ensure_ascii=False) + "\n")
        counts[split] = len(items)
    return counts


def build_directory(
    out: str | os.PathLike[str],
    *,
    size: str | int = "small",
    seed: int = 0,
    corpus_path: str | os.PathLike[str] | None = None,
    questions_path: str | os.PathLike[str] | None = None,
    dense: bool = False,
    dense_model: str | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Write a search directory (corpus, questions, BM25 index, optionally dense) and report sizes
    and timings; :func:`load_data` (``index_dir=``) and ``turngym search serve`` read it back."""
    import resource
    import shutil
    import time

    from turngym.envs.searchqa.corpus import write_jsonl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if corpus_path is not None:
        if questions_path is None:
            raise ValueError("a real corpus needs its questions (questions_path)")
        shutil.copyfile(corpus_path, out / "corpus.jsonl")
        questions = load_questions(questions_path)
        meta: dict[str, Any] = {"source": "jsonl", "name": f"file-{Path(questions_path).stem}"}
    else:
        world = build_world(size, seed)
        generated = render_corpus(world)
        timings["generate_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        questions = generate_questions(generated)
        timings["questions_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        write_jsonl(generated, out / "corpus.jsonl")
        timings["write_s"] = time.perf_counter() - t1
        meta = {"source": "generated", "name": world.key, "version": GENERATOR_VERSION, "size": world.num_people, "seed": seed, "ids_are_positions": True}
        del generated, world
    counts = write_questions(questions, out / "questions")
    corpus = JsonlCorpus(out / "corpus.jsonl")
    t1 = time.perf_counter()
    bm25 = BM25Retriever.build(corpus, show_progress=show_progress)
    timings["bm25_index_s"] = time.perf_counter() - t1
    bm25.save(out)
    if dense:
        t1 = time.perf_counter()
        DenseRetriever.build(corpus, model_path=dense_model, show_progress=show_progress).save(out)
        timings["dense_index_s"] = time.perf_counter() - t1
    meta.update(format=DIR_FORMAT, num_passages=len(corpus), questions=counts, dense=dense)
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    disk = {p.name: sum(f.stat().st_size for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()) for p in out.iterdir()}
    timings["total_s"] = time.perf_counter() - t0
    return {**meta, "timings": timings, "disk_bytes": disk, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


__all__ = ["DIR_FORMAT", "build_directory", "RetrieverError", "SearchData", "load_data", "load_questions", "write_questions"]
