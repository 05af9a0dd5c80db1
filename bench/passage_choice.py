"""Which passages a grounded answer gets from a mixed collection: ways of choosing k of the fused ranking's top
candidates, scored by whether the evidence of a dev question is among them (hit@1, hit@k, with 95% bootstrap
intervals), side by side in one run.

The collection is built as the Knowledge tab invites: the sample FAQ (395 Q/A rows) and the policy PDF (68
passages) in one collection, in a temporary knowledge folder. Questions are dev sets, not test sets:
  bench/data/faq_dev.csv                 26 paraphrased questions answered by FAQ rows (evidence: a phrase of the row)
  tests/data/knowledge/policy_questions.csv  24 questions answered by the policy (evidence: a phrase of the section)

    python bench/passage_choice.py [--k 3] [--candidates 20] [--second-stage FOLDER]

--second-stage: a sentence-transformers model folder (mean pooling, e.g. all-mpnet-base-v2 unpacked from its
pypi-part packages, ../shared/docs/models.md) that re-scores the candidates by cosine similarity.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV_SETS = {"faq": ROOT / "bench/data/faq_dev.csv", "policy": ROOT / "tests/data/knowledge/policy_questions.csv"}


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def hit(passages, evidence: str, depth: int) -> bool:
    return any(_normal(evidence) in _normal(p.text) for p in passages[:depth])


def interval(flags: list[bool], rounds: int = 2000) -> tuple[float, float, float]:
    import numpy as np

    values = np.array(flags, dtype=float)
    draws = np.random.default_rng(0).integers(0, len(values), (rounds, len(values)))
    means = values[draws].mean(axis=1)
    return values.mean(), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def best_sentence_order(question: str, passages, k: int):
    """The `k` candidates whose best sentence is most relevant to the question (support.relevance): a long
    passage is judged by the sentence that answers, not diluted by the rest."""
    from studio.knowledge.support import relevance, sentences

    split = [sentences(p.text) or [p.text] for p in passages]
    scores = relevance(question, [s for parts in split for s in parts])
    best, start = [], 0
    for parts in split:
        best.append(max(scores[start:start + len(parts)]))
        start += len(parts)
    order = sorted(range(len(passages)), key=lambda i: -best[i])
    return [passages[i] for i in order[:k]]


def most_relevant_diverse(question: str, passages, k: int, weight: float = 0.7):
    """Maximal marginal relevance over the candidates' embeddings: each next passage is the most relevant one
    that is least like those already chosen."""
    import numpy as np

    from studio.knowledge.embeddings import embedder

    vectors = embedder().encode([question] + [p.text for p in passages])
    similarity, chosen = vectors[1:] @ vectors[0], []
    while len(chosen) < min(k, len(passages)):
        redundancy = (vectors[1:] @ vectors[1:][chosen].T).max(axis=1) if chosen else np.zeros(len(passages))
        score = weight * similarity - (1 - weight) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return [passages[i] for i in chosen]


class SecondStage:
    """Cosine similarity of a larger sentence-transformers model (mean pooling, normalised)."""

    def __init__(self, folder: str):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch, self.tokenizer = torch, AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()

    def order(self, question: str, passages, k: int):
        torch = self.torch
        batch = self.tokenizer([question] + [p.text for p in passages], padding=True, truncation=True,
                               max_length=384, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
        scores = (vectors[1:] @ vectors[0]).tolist()
        return [passages[i] for i in sorted(range(len(passages)), key=lambda i: -scores[i])[:k]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--second-stage", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CQA_KNOWLEDGE_DIR"] = str(Path(tmp) / "knowledge")
        from studio.knowledge import reading, store

        store.add_files("mixed", [ROOT / "assets/insurer_faq.csv", ROOT / "assets/policy_wording.pdf"])
        methods = {
            "fused (ranking as is)": lambda q, c: c[:args.k],
            "per-file quota": lambda q, c: reading.spread_over_files(c, args.k),
            "best sentence": lambda q, c: best_sentence_order(q, c, args.k),
            "per-file quota of best-sentence order": lambda q, c: reading.spread_over_files(
                best_sentence_order(q, c, len(c)), args.k),
            "MMR (0.7)": lambda q, c: most_relevant_diverse(q, c, args.k),
        }
        if args.second_stage:
            second = SecondStage(args.second_stage)
            methods["second stage"] = lambda q, c: second.order(q, c, args.k)
            methods["per-file quota of second-stage order"] = lambda q, c: reading.spread_over_files(
                second.order(q, c, len(c)), args.k)
        rows = {name: list(csv.DictReader(path.open(encoding="utf-8"))) for name, path in DEV_SETS.items()}
        candidates = {name: store.retrieve_many("mixed", [r["question"] for r in data], args.candidates, spread=False)
                      for name, data in rows.items()}
        print(f"k={args.k}, candidates={args.candidates}; hit@1 / hit@{args.k} [95% interval]; ms per question")
        for method, choose in methods.items():
            line = [f"{method:34s}"]
            for name, data in rows.items():
                start = time.perf_counter()
                chosen = [choose(r["question"], c) for r, c in zip(data, candidates[name])]
                ms = (time.perf_counter() - start) * 1000 / len(data)
                one = interval([hit(p, r["evidence"], 1) for r, p in zip(data, chosen)])
                top = interval([hit(p, r["evidence"], args.k) for r, p in zip(data, chosen)])
                line.append(f"{name}: {one[0]:.2f} / {top[0]:.2f} [{top[1]:.2f}-{top[2]:.2f}] {ms:4.0f} ms")
            print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()
