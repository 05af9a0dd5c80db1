"""Retrieval speed: indexing time per page and per passage, and query latency (query embedding included).

Two corpora, built in a temporary knowledge folder:
  a 100+ page PDF: the sample policy wording (assets/policy_wording.pdf, 10 pages) joined with itself until it
    has at least --pages pages (pypdf), indexed as one document;
  10,000 passages: the 395 sample FAQ pairs, each repeated with a series number in its question, as a Q/A file.
Queries are the sample test questions (assets/test_brief.csv), each asked --repeat times in hybrid mode (the
default). The last line is `p95_ms: X`, the worse of the two corpora's 95th-percentile query latency.

    python bench/retrieval_speed.py [--pages 110] [--passages 10000] [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_pdf(folder: Path, pages: int) -> Path:
    from pypdf import PdfReader, PdfWriter

    source = PdfReader(ROOT / "assets" / "policy_wording.pdf")
    writer = PdfWriter()
    while len(writer.pages) < pages:
        writer.append(source)
    path = folder / f"policy_{len(writer.pages)}_pages.pdf"
    writer.write(path)
    return path


def build_pairs(folder: Path, count: int) -> Path:
    with (ROOT / "assets" / "insurer_faq.csv").open(newline="") as f:
        pairs = [(row["question"], row["answer"]) for row in csv.DictReader(f)]
    path = folder / f"faq_{count}.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "answer"])
        for i in range(count):
            question, answer = pairs[i % len(pairs)]
            writer.writerow([f"{question} (policy series {i // len(pairs) + 1})", answer])
    return path


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(name: str, path: Path, queries: list[str], repeat: int, unit: str, units: int) -> float:
    from studio.knowledge import store

    start = time.perf_counter()
    store.add_files(name, [path])
    seconds = time.perf_counter() - start
    passages = store.list_collections()[[c.name for c in store.list_collections()].index(name)].passages
    print(f"{name}: {units} {unit}s, {passages} passages indexed in {seconds:.1f} s = "
          f"{seconds / units * 1000:.0f} ms per {unit}, {seconds / passages * 1000:.1f} ms per passage")
    store.retrieve(name, queries[0])  # load from disk once, as the app does
    latencies = []
    for _ in range(repeat):
        for query in queries:
            start = time.perf_counter()
            store.retrieve(name, query, k=3)
            latencies.append((time.perf_counter() - start) * 1000)
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    from studio.knowledge.embeddings import embedder

    encoding = []
    for query in queries:
        start = time.perf_counter()
        embedder().encode([query])
        encoding.append((time.perf_counter() - start) * 1000)
    print(f"{name}: {len(latencies)} queries (hybrid, k=3), latency p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"(query embedding alone: p50 {statistics.median(encoding):.1f} ms)")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=110)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="times each test question is asked")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CQA_KNOWLEDGE_DIR"] = str(Path(tmp) / "knowledge")
        from studio.knowledge.embeddings import embedder

        start = time.perf_counter()
        embedder()
        print(f"embedding model loaded (sha256 checked) in {time.perf_counter() - start:.1f} s; "
              f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}")
        with (ROOT / "assets" / "test_brief.csv").open(newline="") as f:
            queries = [row["question"] for row in csv.DictReader(f)]
        pdf = build_pdf(Path(tmp), args.pages)
        worst = measure("pdf", pdf, queries, args.repeat, "page", len(__import__("pypdf").PdfReader(pdf).pages))
        pairs = build_pairs(Path(tmp), args.passages)
        worst = max(worst, measure("pairs", pairs, queries, args.repeat, "pair", args.passages))
    print(f"p95_ms: {worst:.1f}")


if __name__ == "__main__":
    main()
