"""The answer-token loss: one example's tokens with the answer to score, length-grouped batches, and the summed
loss over answer tokens only. Training minimises it; evaluation reports it as the reference answers' perplexity.

Each example's loss covers only its answer (and the end token, so the model learns to stop); the output layer
runs only where there is an answer to score.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from chat.engine import encode_prompt, render
from training import data
from training.configs import SFTJob

MAX_BATCH_TOKENS = 6144
"""Padded tokens per forward pass; bigger optimizer batches are split into micro-batches (bounded memory)."""


@dataclass
class Tokenized:
    input_ids: list[int]
    labels: list[int]
    """Causal: -100 over the prompt, token ids over the answer and its end token. Seq2seq: the answer's ids."""
    prompt_cut: int = 0
    """Prompt tokens cut from the left to fit max_length."""


def tokenize(example: data.Example, tokenizer, style: str, seq2seq: bool, cfg: SFTJob,
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


def collate(items: list[Tokenized], pad_id: int, seq2seq: bool) -> dict[str, torch.Tensor]:
    """Right-padded tensors; padding is masked out of attention and labels (so pad == eos is harmless)."""
    width = max(len(t.input_ids) for t in items)
    ids = torch.full((len(items), width), pad_id)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    label_width = max(len(t.labels) for t in items) if seq2seq else width
    labels = torch.full((len(items), label_width), -100)
    for row, t in enumerate(items):
        ids[row, : len(t.input_ids)] = torch.tensor(t.input_ids)
        mask[row, : len(t.input_ids)] = 1
        labels[row, : len(t.labels)] = torch.tensor(t.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def micro_batches(batch: list[Tokenized]) -> list[list[Tokenized]]:
    width = max(len(t.input_ids) for t in batch)
    per_pass = max(1, MAX_BATCH_TOKENS // width)
    return [batch[i:i + per_pass] for i in range(0, len(batch), per_pass)]

def batch_loss(model, batch: dict[str, torch.Tensor], seq2seq: bool) -> tuple[torch.Tensor, int]:
    """Summed token NLL over answer tokens, and how many there were."""
    labels = batch["labels"]
    if seq2seq:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels)
        count = int((labels != -100).sum())
        return out.loss * count, count
    # Score only positions that predict an answer token: the output layer (often a fifth of the model's
    # compute) skips the prompt. Positions are shared across the batch, so keep from the earliest answer on.
    targets = labels[:, 1:]
    first = int((targets != -100).float().argmax(dim=1).min())
    keep = targets.shape[1] - first
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep + 1)
    logits = out.logits[:, :-1, :]
    targets = targets[:, first:]
    loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                             ignore_index=-100, reduction="sum")
    return loss, int((targets != -100).sum())


def mean_loss(model, items: list[Tokenized], cfg: SFTJob, pad_id: int, seq2seq: bool, device: str, amp) -> float:
    """Mean answer-token loss; the model is left in the mode (train or eval) it came in."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), amp():
        for index_batch in batches(items, cfg.batch_size, cfg.seed):
            for micro in micro_batches([items[i] for i in index_batch]):
                batch = {k: v.to(device) for k, v in collate(micro, pad_id, seq2seq).items()}
                loss, n = batch_loss(model, batch, seq2seq)
                total, count = total + float(loss.detach()), count + n
    model.train(was_training)
    return total / max(count, 1)
