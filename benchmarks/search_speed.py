"""Search speed: in-process BM25 vs the Search-R1 HTTP server over loopback, same index, same run.

Builds a generated corpus (``--size large`` is about a million passages) and its bm25s index into
a directory (``turngym search build``), starts ``turngym search serve`` on it in another process,
loads the same index in this process (memory-mapped), then answers the same queries (questions'
text) four ways: in process one query at a time, in process in batches, over HTTP one query per
request, and over HTTP in batches from several client threads at once. Reports passages, build
and index times, memory (peak RSS of the build; RSS of the loaded index), queries/s for each way
and the ratio to in-process single queries, and checks that the server returns the same rankings.

    .venv/bin/python benchmarks/search_speed.py [--size large] [--queries 2000] [--batch 32] [--clients 4]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from rich.console import Console
from rich.table import Table


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "turngym.cli.main", "search", "serve", "--index-dir", index_dir, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 600
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("the retrieval server did not start")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="large", help="world size: tiny | small | medium | large (~1M passages) or a number of people")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--topk", type=int, default=3)
    args = parser.parse_args()
    size = int(args.size) if args.size.isdigit() else args.size

    from turngym.envs.searchqa.corpus import JsonlCorpus
    from turngym.envs.searchqa.dataset import build_directory, load_questions
    from turngym.envs.searchqa.retrieval import BM25Retriever, HTTPRetriever

    console = Console()
    workdir = tempfile.TemporaryDirectory(prefix="search-speed-")
    index_dir = workdir.name
    report = build_directory(index_dir, size=size, seed=args.seed, show_progress=False)
    t = report["timings"]
    console.print(
        f"{report['num_passages']:,} passages: generated in {t['generate_s']:.1f} s, questions {t['questions_s']:.1f} s, "
        f"jsonl {t['write_s']:.1f} s, BM25 index {t['bm25_index_s']:.1f} s; peak RSS of the build {report['peak_rss_mb']:.0f} MiB; "
        f"on disk: corpus {report['disk_bytes']['corpus.jsonl'] / 2**20:.0f} MiB, index {report['disk_bytes']['bm25'] / 2**20:.0f} MiB"
    )
    questions = load_questions(f"{index_dir}/questions")
    queries = [q.question for q in questions["test"] + questions["dev"] + questions["train"]][: args.queries]
    rss_before, _ = rss_mb()
    t0 = time.perf_counter()
    corpus = JsonlCorpus(f"{index_dir}/corpus.jsonl")
    bm25 = BM25Retriever.load(index_dir, corpus)
    bm25.search(queries[:50], args.topk)  # touch the mapped pages
    rss_after, _ = rss_mb()
    console.print(f"index loaded (memory-mapped) in {time.perf_counter() - t0:.1f} s, RSS +{rss_after - rss_before:.0f} MiB; {len(queries)} queries")

    rows: list[tuple[str, float]] = []

    def timed(label: str, fn) -> list:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = fn()
        rows.append((label, len(queries) / (time.perf_counter() - t)))
        return out

    local_single = timed("in-process, 1 query per call", lambda: [bm25.search([q], args.topk)[0] for q in queries])
    batches = [queries[i:i + args.batch] for i in range(0, len(queries), args.batch)]
    timed(f"in-process, batches of {args.batch}", lambda: [h for b in batches for h in bm25.search(b, args.topk)])

    port = free_port()
    t0 = time.perf_counter()
    server = start_server(index_dir, port)
    console.print(f"server up in {time.perf_counter() - t0:.1f} s")
    url = f"http://127.0.0.1:{port}/retrieve"
    try:
        client = HTTPRetriever(url)
        http_single = timed("HTTP, 1 query per request", lambda: [client.search([q], args.topk)[0] for q in queries])
        timed(f"HTTP, batches of {args.batch}", lambda: [h for b in batches for h in client.search(b, args.topk)])

        def concurrent() -> list:  # type: ignore[no-untyped-def]
            clients = [HTTPRetriever(url) for _ in range(args.clients)]
            with ThreadPoolExecutor(args.clients) as pool:
                parts = list(pool.map(lambda ib: clients[ib[0] % args.clients].search(ib[1], args.topk), enumerate(batches)))
            for c in clients:
                c.close()
            return [h for p in parts for h in p]

        http_concurrent = timed(f"HTTP, batches of {args.batch}, {args.clients} concurrent clients", concurrent)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        workdir.cleanup()

    same = all([h.doc_id for h in a] == [h.doc_id for h in b] == [h.doc_id for h in c] for a, b, c in zip(local_single, http_single, http_concurrent))
    base = rows[0][1]
    table = Table(title=f"search speed, {len(corpus):,} passages, top-{args.topk}, {len(queries)} queries")
    table.add_column("how")
    table.add_column("queries/s", justify="right")
    table.add_column("vs in-process single", justify="right")
    for label, qps in rows:
        table.add_row(label, f"{qps:,.0f}", f"{qps / base:.2f}x")
    console.print(table)
    console.print(f"identical rankings (in-process vs HTTP vs concurrent HTTP): {same}")
    if not same:
        raise SystemExit("rankings differ")


if __name__ == "__main__":
    main()
