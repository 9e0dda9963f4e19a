"""``turngym search``: build a corpus + index, serve the Search-R1 retrieval API, describe, query.

Module-level imports stay light: bm25s, fastapi and the world generator load inside the commands.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Search QA: generated multi-hop corpora, BM25/dense indexes, a Search-R1 /retrieve server.", no_args_is_help=True)

Size = Annotated[str, typer.Option(help="Generated world size: tiny | small | medium | large (~1M passages) or a number of people.")]
Seed = Annotated[int, typer.Option(help="World seed (with the generator version and size, pins corpus and questions).")]
IndexDir = Annotated[Path | None, typer.Option(help="A directory written by `turngym search build` (instead of generating).")]


def _size(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _data(size: str, seed: int, index_dir: Path | None, corpus: Path | None = None, questions: Path | None = None, dense: bool = False):  # type: ignore[no-untyped-def]
    from turngym.envs.searchqa.dataset import load_data

    try:
        return load_data(size=_size(size), seed=seed, index_dir=index_dir, corpus_path=corpus, questions_path=questions, retriever="dense" if dense else "bm25")
    except (ImportError, ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(str(exc))
        raise


@app.command()
def build(
    out: Annotated[Path, typer.Option(help="Output directory (corpus.jsonl, questions/, bm25/, meta.json).")],
    size: Size = "small",
    seed: Seed = 0,
    corpus: Annotated[Path | None, typer.Option(help="Index a real wiki-18-style jsonl corpus instead of generating one.")] = None,
    questions: Annotated[Path | None, typer.Option(help="With --corpus: FlashRAG-style questions (jsonl file or folder of <split>.jsonl).")] = None,
    dense: Annotated[bool, typer.Option(help="Also build a dense (all-MiniLM-L6-v2) index; needs the dense extra.")] = False,
    dense_model: Annotated[str | None, typer.Option(help="A sentence-transformers model directory for --dense.")] = None,
) -> None:
    """Build a corpus and its BM25 index into a directory and report sizes and timings."""
    from turngym.envs.searchqa.dataset import build_directory

    try:
        report = build_directory(out, size=_size(size), seed=seed, corpus_path=corpus, questions_path=questions, dense=dense, dense_model=dense_model)
    except (ImportError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    typer.echo(f"{report['num_passages']:,} passages, questions {report['questions']} -> {out}")
    for name, seconds in report["timings"].items():
        typer.echo(f"  {name:14s} {seconds:8.1f} s")
    for name, nbytes in sorted(report["disk_bytes"].items()):
        typer.echo(f"  {name:14s} {nbytes / 2**20:8.1f} MiB")
    typer.echo(f"  peak RSS       {report['peak_rss_mb']:8.0f} MiB")
    typer.echo(f"serve it with: turngym search serve --index-dir {out}")


@app.command()
def serve(
    index_dir: IndexDir = None,
    size: Size = "small",
    seed: Seed = 0,
    corpus: Annotated[Path | None, typer.Option(help="Serve a wiki-18-style jsonl corpus (indexed at start-up).")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    topk: Annotated[int, typer.Option(help="Default topk when a request names none.")] = 3,
    dense: Annotated[bool, typer.Option(help="Serve the dense index instead of BM25.")] = False,
) -> None:
    """Serve the Search-R1 retrieval API: POST /retrieve {"queries": [...], "topk": 3, "return_scores": true}."""
    from turngym.envs.searchqa.server import serve as run

    from turngym.envs.searchqa.corpus import JsonlCorpus
    from turngym.envs.searchqa.retrieval import BM25Retriever, DenseRetriever, RetrieverError

    if corpus is not None:
        passages = JsonlCorpus(corpus)
        retriever = DenseRetriever.build(passages) if dense else BM25Retriever.build(passages, show_progress=True)
        n = len(passages)
    elif index_dir is not None:  # the index only: the server has no use for the questions
        try:
            passages = JsonlCorpus(index_dir / "corpus.jsonl")
            retriever = DenseRetriever.load(index_dir, passages) if dense else BM25Retriever.load(index_dir, passages)
        except (FileNotFoundError, RetrieverError, ImportError) as exc:
            _fail(str(exc))
            return
        n = len(passages)
    else:
        data = _data(size, seed, index_dir, dense=dense)
        retriever, n = data.retriever, len(data.corpus)
    typer.echo(f"serving {n:,} passages ({getattr(retriever, 'kind', '?')}) on http://{host}:{port}/retrieve")
    run(retriever, host=host, port=port, default_topk=topk, num_passages=n, log_level="info")


@app.command()
def stats(size: Size = "small", seed: Seed = 0, index_dir: IndexDir = None) -> None:
    """Passages, questions per split and kind, and mean passage length of a corpus."""
    t0 = time.perf_counter()
    data = _data(size, seed, index_dir)
    corpus = data.corpus
    n = len(corpus)
    sample = range(0, n, max(1, n // 2000))
    words = sum(len(corpus.contents(i).split()) for i in sample) / max(1, len(sample))
    typer.echo(f"corpus {data.name}: {n:,} passages, {words:.0f} words per passage on average (loaded in {time.perf_counter() - t0:.1f} s)")
    for split, items in data.questions.items():
        kinds = Counter(q.kind for q in items)
        typer.echo(f"  {split:5s} {len(items):7,} questions: " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    if data.questions.get("test"):
        q = data.questions["test"][0]
        typer.echo(f"example: {q.question} -> {q.answers} (supporting passages {', '.join(q.supporting) or '-'})")


@app.command()
def query(
    text: Annotated[list[str], typer.Argument(help="One or more queries.")],
    size: Size = "small",
    seed: Seed = 0,
    index_dir: IndexDir = None,
    topk: Annotated[int, typer.Option(help="Results per query.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the /retrieve response instead.")] = False,
) -> None:
    """Run queries against the in-process retriever and print what the env would show."""
    from turngym.envs.searchqa.retrieval import format_information

    data = _data(size, seed, index_dir)
    results = data.retriever.search(text, topk)
    if as_json:
        typer.echo(json.dumps({"result": [[h.to_json() for h in hits] for hits in results]}, indent=1))
        return
    for q, hits in zip(text, results):
        typer.echo(f"<search>{q}</search>\n<information>{format_information(hits)}</information>")
