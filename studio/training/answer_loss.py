"""The answer-token loss: one example's tokens with the answer to score, length-grouped batches, and the summed
loss over answer tokens only. Training minimises it; evaluation reports it as the reference answers' perplexity.

Each example's loss covers only its answer (and the end token, so the model learns to stop); the output layer
runs only where there is an answer to score, and a prefix every row of a batch shares (the system prompt, the
grounding instructions) runs once (engines/hf.py and engines/answer_logits.py compute it: evaluation measures
log-likelihood there too).
"""

from __future__ import annotations

import random

from studio.data import qa
from studio.engines.base import Tokenized
from studio.engines.hf import summed_loss
from studio.engines.prompts import encode_prompt, render
from studio.jobs.kinds import SFTJob


def tokenize(example: qa.Example, tokenizer, style: str, seq2seq: bool, cfg: SFTJob,
             system_prompt: str | None = None) -> Tokenized:
    """`system_prompt` replaces cfg.system_prompt (a retrieval-augmented example's grounded prompt)."""
    prompt = render(style, tokenizer, example.messages, cfg.system_prompt if system_prompt is None else system_prompt)
    if seq2seq:
        full = len(tokenizer(prompt).input_ids)
        ids = tokenizer(prompt, truncation=True, max_length=cfg.max_length).input_ids
        labels = tokenizer(example.answer, truncation=True, max_length=cfg.max_length).input_ids
        return Tokenized(ids, labels, prompt_cut=max(0, full - len(ids)))
    prompt_ids = encode_prompt(tokenizer, style, prompt)
    separator = " " if style == "qa" else ""  # "Answer:" is followed by " answer", as at chat time
    answer_ids = tokenizer(separator + example.answer, add_special_tokens=False).input_ids
    answer_ids = answer_ids[: cfg.max_length - 16] + [tokenizer.eos_token_id]
    kept = prompt_ids[-(cfg.max_length - len(answer_ids)):]
    return Tokenized(kept + answer_ids, [-100] * len(kept) + answer_ids, prompt_cut=len(prompt_ids) - len(kept))


def batches(items: list[Tokenized], batch_size: int, seed: int) -> list[list[int]]:
    """Index batches of similar length (little padding), in a seeded random order."""
    rng = random.Random(seed)
    order = list(range(len(items)))
    rng.shuffle(order)
    chunk = batch_size * 16
    grouped = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: len(items[i].input_ids))
        grouped += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(grouped)
    return grouped


def mean_loss(model, items: list[Tokenized], cfg: SFTJob, pad_id: int, seq2seq: bool, device: str, amp) -> float:
    """Mean answer-token loss; the model is left in the mode (train or eval) it came in."""
    was_training = model.training
    model.eval()
    with amp():
        grouped = [[items[i] for i in batch] for batch in batches(items, cfg.batch_size, cfg.seed)]
        total, count = summed_loss(model, grouped, pad_id, seq2seq, device)
    model.train(was_training)
    return total / max(count, 1)
