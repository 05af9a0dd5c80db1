"""The pieces RLHF steps are made of, the same for causal models (GPT-NeoX, GPT-2, Llama/Qwen/Gemma) and
encoder-decoder T5: batched generation, answers' log-probabilities, group-relative advantages, the policy-gradient
loss and the DPO loss. studio/training/rlhf.py puts them together into GRPO, RLOO and DPO runs.

GRPO and RLOO here are on-policy with one update per batch of sampled answers (as TRL's defaults), so the clipped
ratio of PPO is exactly 1 and its gradient is the plain policy gradient: minimise -sum(advantage x log p(answer))
over answer tokens. No KL term (TRL's GRPO default beta is 0 too): LoRA on few steps stays close to its start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from studio.data import qa
from studio.engines.base import GenerationSettings, Tokenized, cut_at_stop
from studio.engines.hf import HFModel, collate, generation_kwargs, micro_batches
from studio.engines.prompts import STOP_STRINGS, encode_prompt, render
from studio.jobs.kinds import RLHFJob
from studio.models.refs import ModelEntry
from studio.training.answer_loss import tokenize


@dataclass
class Policy:
    """The model being tuned (PEFT, LoRA weights trainable) with what it needs to read and write text."""

    model: torch.nn.Module
    tokenizer: object
    entry: ModelEntry
    device: str
    cfg: RLHFJob
    amp: Callable[[], contextlib.AbstractContextManager] = field(default=contextlib.nullcontext)

    @property
    def seq2seq(self) -> bool:
        return self.entry.seq2seq

    @property
    def loaded(self) -> HFModel:
        """The chat's view of this model, so generation takes the chat's own arguments (stops, padding)."""
        return HFModel(self.entry, self.model, self.tokenizer, self.device, "float32")


# ------------------------------------------------------------------------------------------------ generation


def prompt_ids(policy: Policy, example: qa.Example) -> list[int]:
    """The question rendered as the chat renders it, cut from the left so prompt + answer fit max_length."""
    cfg = policy.cfg
    text = render(policy.entry.prompt_style, policy.tokenizer, example.messages, cfg.system_prompt)
    ids = encode_prompt(policy.tokenizer, policy.entry.prompt_style, text)
    room = cfg.max_length if policy.seq2seq else max(16, cfg.max_length - cfg.max_new_tokens)
    return ids[-room:]


def _answer_tokens(tokens: list[int], tokenizer) -> list[int]:
    """Generated ids up to and including the end token; padding after a stop string dropped."""
    if tokenizer.eos_token_id in tokens:
        return tokens[: tokens.index(tokenizer.eos_token_id) + 1]
    while tokens and tokens[-1] == tokenizer.pad_token_id:
        tokens = tokens[:-1]
    return tokens


def generate(policy: Policy, prompts: list[list[int]], settings: GenerationSettings,
             copies: int = 1) -> list[list[int]]:
    """`copies` answers (token ids) to each prompt, in one batch: prompt 0's copies first, then prompt 1's..."""
    tokenizer = policy.tokenizer
    width = max(len(ids) for ids in prompts)
    ids = torch.full((len(prompts), width), tokenizer.pad_token_id)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):  # left padding: causal models continue right where the prompt ends
        ids[row, width - len(prompt):] = torch.tensor(prompt)
        mask[row, width - len(prompt):] = 1
    kwargs = generation_kwargs(policy.loaded, settings, width)
    with torch.inference_mode(), policy.amp():
        out = policy.model.generate(input_ids=ids.to(policy.device), attention_mask=mask.to(policy.device),
                                    num_return_sequences=copies, **kwargs)
    new = out[:, 1:] if policy.seq2seq else out[:, width:]  # T5 starts with its decoder start token
    return [_answer_tokens(row.tolist(), tokenizer) for row in new]


def answer_text(policy: Policy, tokens: list[int]) -> str:
    """The answer as the chat would show it: special tokens dropped, cut at the prompt style's stop strings."""
    text = policy.tokenizer.decode(tokens, skip_special_tokens=True)
    return cut_at_stop(text, STOP_STRINGS[policy.entry.prompt_style])[0].strip()


def sampling(cfg: RLHFJob) -> GenerationSettings:
    """GRPO/RLOO: sample the policy itself (no top-p, no repetition penalty), so log p is what was sampled."""
    return GenerationSettings(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=1.0,
                              repetition_penalty=1.0, system_prompt=cfg.system_prompt)


def greedy(cfg: RLHFJob) -> GenerationSettings:
    """DPO's rejected answers: the model's own greedy answer, as evaluation and the chat produce it."""
    return GenerationSettings(max_new_tokens=cfg.max_new_tokens, system_prompt=cfg.system_prompt)


# ------------------------------------------------------------------------------------------------ log-probs


def answer_item(policy: Policy, prompt: list[int], answer: list[int]) -> Tokenized:
    """A prompt and generated answer ids as one training item (labels over the answer only)."""
    if policy.seq2seq:
        return Tokenized(prompt, answer)
    return Tokenized(prompt + answer, [-100] * len(prompt) + answer)


def text_item(policy: Policy, messages: list[dict], answer: str) -> Tokenized:
    """A question (its prompt turns) with a written answer (DPO's chosen and rejected), tokenized exactly as SFT
    trains on it."""
    return tokenize(qa.Example(messages=messages, answer=answer), policy.tokenizer, policy.entry.prompt_style, policy.seq2seq, policy.cfg)


def sequence_logprobs(policy: Policy, items: list[Tokenized], temperature: float = 1.0) -> torch.Tensor:
    """Sum of log p(answer token) over each item's answer tokens (with grad when grad is enabled)."""
    batch = {k: v.to(policy.device) for k, v in collate(items, policy.tokenizer.pad_token_id, policy.seq2seq).items()}
    labels = batch["labels"]
    with policy.amp():
        if policy.seq2seq:
            logits = policy.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  labels=labels).logits
            targets = labels
        else:  # as answer_loss.batch_loss: the output layer runs only from the earliest answer token on
            targets = labels[:, 1:]
            first = int((targets != -100).float().argmax(dim=1).min())
            logits = policy.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  logits_to_keep=targets.shape[1] - first + 1).logits[:, :-1, :]
            targets = targets[:, first:]
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * (targets != -100)).sum(dim=1)


def logprobs_in_chunks(policy: Policy, items: list[Tokenized]) -> list[float]:
    """sequence_logprobs without grad, in bounded micro-batches (DPO's reference values)."""
    values = []
    with torch.no_grad():
        for start in range(0, len(items), 8):
            chunk = items[start:start + 8]
            for micro in micro_batches(chunk):
                values += sequence_logprobs(policy, micro).tolist()
    return values


# ------------------------------------------------------------------------------------------------ losses


def advantages(rewards: torch.Tensor, method: str) -> torch.Tensor:
    """rewards: questions x answers. GRPO: (r - group mean) / group std; RLOO: r minus the mean of the others."""
    mean = rewards.mean(dim=1, keepdim=True)
    if method == "grpo":
        return (rewards - mean) / (rewards.std(dim=1, keepdim=True) + 1e-4)
    if method == "rloo":
        n = rewards.shape[1]
        return (rewards - mean) * n / (n - 1)
    raise ValueError(f"no advantages for method {method!r}")


def policy_gradient_step(policy: Policy, items: list[Tokenized], advantage: list[float]) -> float:
    """Backward of -sum(advantage x log p(answer)) / answer tokens, micro-batch by micro-batch. Returns the loss."""
    tokens = sum(sum(1 for x in t.labels if x != -100) for t in items)
    weights = dict(zip(map(id, items), advantage))
    total = 0.0
    for micro in micro_batches(items):
        scale = torch.tensor([weights[id(t)] for t in micro], device=policy.device)
        loss = -(scale * sequence_logprobs(policy, micro, policy.cfg.temperature)).sum() / max(tokens, 1)
        loss.backward()
        total += float(loss.detach())
    return total


def dpo_loss(chosen: torch.Tensor, rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
             beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean -log sigmoid(margin) and the margins, margin = beta x (chosen's log-ratio - rejected's log-ratio),
    each log-ratio the policy's log p minus the starting model's."""
    margins = beta * ((chosen - ref_chosen) - (rejected - ref_rejected))
    return -torch.nn.functional.logsigmoid(margins).mean(), margins.detach()
