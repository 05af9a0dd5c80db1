"""How often the support check's two readings are right, on data that is not a test set.

1. Yes/no: the FAQ's yes/no rows (assets/insurer_faq.csv, training data): the question, and the answer's first
   sentence with its leading "Yes"/"No" taken off; the judge must give that yes or no back. Negation cues against
   the chat model's own Yes/No likelihood (model_judge below). Neither is right often enough to reject an answer
   by: the app judges a yes or no only against a Q/A row that states one (support.source_polarity).
2. Which sentence answers: tests/data/knowledge/policy_questions.csv (24 questions over the policy wording with the
   evidence each answer stands on): the sentence best_sentences picks from the 3 retrieved passages holds the
   evidence (hit@1), or one of the two it quotes does.
3. The other-subject rule (support.other_subject) on right answers: every FAQ row's own answer to its question
   (not yes/no), checked against the 3 passages retrieved for it from the FAQ + policy PDF; each flag is a right
   answer the check would send to a second try.

    .venv/bin/python bench/support_check.py [--model bundled:qwen2.5-coder-0.5b-instruct] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.engines.base import Tokenized  # noqa: E402
from studio.engines.loader import load_model  # noqa: E402
from studio.engines.prompts import encode_prompt, render_prompt  # noqa: E402
from studio.knowledge import collection, store, support  # noqa: E402
from studio.metrics.key_facts import NEGATION  # noqa: E402

JUDGE_QUESTION = ("Sentence: {sentence}\n\nQuestion: {question}\n\nDoes the sentence answer the question with yes "
                  "or with no? Reply with one word: Yes or No.")


def cue_polarity(question: str, sentence: str) -> str | None:
    """The yes or no a sentence gives a yes/no question, from negation cues: an explicit leading Yes/No, else
    "no" when one of them is negated ("not", "excluded", "never", ...) and the other is not."""
    explicit = re.match(r"^\W*(yes|no)\b", sentence, re.I)
    if explicit:
        return explicit.group(1).lower()
    return "no" if bool(NEGATION.search(sentence.lower())) != bool(NEGATION.search(question.lower())) else "yes"


def model_judge(loaded):
    """The chat model's own reading of a sentence for a yes/no question: whichever of "Yes" and "No" it finds
    more likely as the reply (one forward pass each, log-likelihood through the engine)."""
    def judge(question: str, sentence: str) -> str | None:
        messages = [{"role": "user", "content": JUDGE_QUESTION.format(sentence=sentence, question=question)}]
        prompt = encode_prompt(loaded.tokenizer, loaded.entry.prompt_style, render_prompt(loaded, messages, ""))
        losses = {}
        for word in ("Yes", "No"):
            ids = loaded.tokenizer(word, add_special_tokens=False).input_ids
            total, _ = loaded.answer_log_likelihood([Tokenized(prompt + ids, [-100] * len(prompt) + ids)])
            losses[word.lower()] = total
        return min(losses, key=losses.get)

    return judge


def yes_no_rows(limit: int) -> list[tuple[str, str, str]]:
    rows = []
    for row in csv.DictReader(open(ROOT / "assets" / "insurer_faq.csv", encoding="utf-8")):
        lead = re.match(r"^(Yes|No)\W*", row["answer"])
        if lead and support.is_yes_no_question(row["question"]):
            rest = support.sentences(row["answer"][lead.end():])
            if rest:
                rows.append((row["question"], rest[0], lead.group(1).lower()))
    return rows[:limit] if limit else rows


def interval(hits: int, n: int) -> str:
    """Share with a Wilson 95% interval."""
    if not n:
        return "-"
    p, z = hits / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return f"{hits}/{n} = {p:.2f} [{centre - half:.2f}-{centre + half:.2f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    rows = yes_no_rows(args.limit)
    cues = sum(cue_polarity(q, s) == gold for q, s, gold in rows)
    judge = model_judge(load_model(args.model, progress=lambda m: print(m, file=sys.stderr)))
    start = time.perf_counter()
    said = [judge(q, s) for q, s, _ in rows]
    seconds = (time.perf_counter() - start) / max(1, len(rows))
    model = sum(got == gold for got, (_, _, gold) in zip(said, rows))
    print(f"yes/no on {len(rows)} FAQ rows: negation cues {interval(cues, len(rows))}; "
          f"{args.model} {interval(model, len(rows))} ({seconds:.2f} s per question)")
    wrong = [(q, s, gold) for got, (q, s, gold) in zip(said, rows) if got != gold]
    for q, s, gold in wrong[:8]:
        print(f"  model wrong (says {'no' if gold == 'yes' else 'yes'}): {q} | {s}")

    store.sample_collection(collection.SAMPLE_POLICY)
    questions = list(csv.DictReader(open(ROOT / "tests" / "data" / "knowledge" / "policy_questions.csv")))
    first = quoted = in_passages = 0
    for row in questions:
        passages = store.retrieve(collection.SAMPLE_POLICY, row["question"], 3)
        evidence = " ".join(row["evidence"].lower().split())
        chosen = support.best_sentences(row["question"], passages)
        first += bool(chosen) and evidence in " ".join(chosen[0].text.lower().split())
        quoted += any(evidence in " ".join(c.text.lower().split()) for c in chosen)
        in_passages += any(evidence in " ".join(p.text.lower().split()) for p in passages)
    n = len(questions)
    print(f"best sentence on {n} policy questions: hit@1 {interval(first, n)}, in the quote {interval(quoted, n)} "
          f"(evidence in the 3 passages: {in_passages}/{n})")

    store.add_files("bench-mixed", [ROOT / "assets" / "insurer_faq.csv", ROOT / "assets" / "policy_wording.pdf"],
                    replace=True)
    try:
        faq = [r for r in csv.DictReader(open(ROOT / "assets" / "insurer_faq.csv", encoding="utf-8"))
               if not support.is_yes_no_question(r["question"])]
        found = store.retrieve_many("bench-mixed", [r["question"] for r in faq], 3)
        flagged = [(r["question"], support.other_subject(r["answer"], r["question"], f)) for r, f in zip(faq, found)]
        flagged = [(q, names) for q, names in flagged if names[1]]
        print(f"other subject on the FAQ's own answers: {interval(len(flagged), len(faq))} flagged")
        for q, (asked, said) in flagged:
            print(f"  flagged: {q} (asked {asked}, answer names {said})")
    finally:
        store.delete("bench-mixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
