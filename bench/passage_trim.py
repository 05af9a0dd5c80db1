"""How much shorter grounded prompts get when document passages are trimmed to their most relevant sentences, and
whether a dev question's evidence survives the trimming. No model answers here: this decides whether trimming is
worth measuring on answers.

Collection: the sample FAQ (395 Q/A rows) and the policy PDF (68 passages), built in a temporary knowledge folder.
Questions: the dev sets of bench/passage_choice.py (26 FAQ paraphrases, 24 policy questions), not test sets. Each
question's 3 passages are retrieved as the chat retrieves them; a document passage keeps its `keep` sentences most
relevant to the question (studio.knowledge.support.relevance), in their order; Q/A rows stay whole (they are short,
and their question is what matches). Prompt tokens: the grounded system prompt in the default model's tokenizer.

    python bench/passage_trim.py
"""

from __future__ import annotations

import csv
import dataclasses
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.knowledge import store, support  # noqa: E402
from studio.models.catalogue import weights_folder  # noqa: E402
from studio.models.refs import DEFAULT_MODEL  # noqa: E402

DEV_SETS = {"faq": ROOT / "bench/data/faq_dev.csv", "policy": ROOT / "tests/data/knowledge/policy_questions.csv"}
KEEP = (2, 3, 4, 6)


def normal(text: str) -> str:
    return " ".join(text.lower().split())


def trimmed(question: str, passages, keep: int):
    out = []
    for passage in passages:
        parts = support.sentences(passage.text) if passage.row is None else []
        if len(parts) <= keep:
            out.append(passage)
            continue
        scores = support.relevance(question, parts)
        chosen = sorted(sorted(range(len(parts)), key=lambda i: -scores[i])[:keep])
        out.append(dataclasses.replace(passage, text=" ".join(parts[i] for i in chosen)))
    return out


def main() -> None:
    from transformers import AutoTokenizer

    os.environ["CQA_KNOWLEDGE_DIR"] = tempfile.mkdtemp(prefix="passage-trim-")
    store.add_files("mixed", [ROOT / "assets" / "insurer_faq.csv", ROOT / "assets" / "policy_wording.pdf"])
    tokenizer = AutoTokenizer.from_pretrained(weights_folder(DEFAULT_MODEL))
    questions = [(row["question"], row["evidence"]) for path in DEV_SETS.values() for row in csv.DictReader(path.open())]
    found = [(q, evidence, store.retrieve("mixed", q, 3)) for q, evidence in questions]
    for keep in (None, *KEEP):
        tokens, present, kept = [], 0, 0
        for question, evidence, passages in found:
            shown = trimmed(question, passages, keep) if keep else passages
            had = any(normal(evidence) in normal(p.text) for p in passages)
            present += had
            kept += had and any(normal(evidence) in normal(p.text) for p in shown)
            tokens.append(len(tokenizer(store.grounded_prompt(shown, "You are a helpful assistant."))["input_ids"]))
        label = f"{keep} sentences" if keep else "whole passages"
        print(f"{label:15s} grounded prompt {statistics.median(tokens):4.0f} tokens p50, {statistics.mean(tokens):4.0f} "
              f"mean; evidence kept in {kept} of the {present} questions whose passages held it", flush=True)


if __name__ == "__main__":
    main()
