"""The causal answer-token loss with less work and the same result: a prefix every row of a batch shares runs once,
and the output layer runs only at positions that predict an answer token.

Every training example of a job starts with the same tokens: the chat template's opening, the system prompt and,
for retrieval-augmented examples, the grounding instructions (19 of SmolLM2's 73 tokens on the sample FAQ). The
rows' keys and values for those tokens are identical, so the prefix runs once on one row and its cache is repeated
across the batch; gradients flow back through the repeat, so the LoRA weights get the same gradient as from every
row computing it. The output layer (a fifth of a small model's compute, vocabulary x width per position) runs on
the gathered answer positions alone, not on every position from the earliest answer of the batch on.

Only for model types whose causal-LM head is exactly `lm_head(decoder(...).last_hidden_state)` (no logit
soft-capping or scaling) and when the model is called directly (a data-parallel wrapper must see its forward):
everything else returns None and the caller runs the model whole.
"""

from __future__ import annotations

import torch

PLAIN_HEAD_TYPES = {"llama", "mistral", "qwen2", "qwen3", "gemma3_text"}
"""Model types whose ForCausalLM forward is the decoder, then the output layer, nothing after it (checked with
tiny random models of each in tests/test_answer_logits.py)."""
MIN_SHARED = 8
"""Shorter shared prefixes run with the rest: a second forward call costs more than it saves."""


def decoder_and_head(model) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """The decoder and output layer to call separately, or None when this model must be called whole."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT model's LoRA-wrapped model
    config = getattr(base, "config", None)
    if config is None or config.model_type not in PLAIN_HEAD_TYPES:
        return None
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logits_scaling", None):
        return None
    if not (hasattr(base, "get_decoder") and hasattr(base, "get_output_embeddings")):
        return None
    return base.get_decoder(), base.get_output_embeddings()


def shared_prefix_length(input_ids: torch.Tensor, labels: torch.Tensor, window: int | None) -> int:
    """How many leading tokens all rows share and may run once: none of them, nor the token after them, is an
    answer token (the prefix's own logits are never computed); 0 when that is under MIN_SHARED, when the batch
    has one row, or when the rows are longer than a sliding-attention window (its cache keeps only the window)."""
    rows, width = input_ids.shape
    if rows < 2 or (window and width > window):
        return 0
    differs = (input_ids != input_ids[:1]).any(dim=0)
    same = int(differs.float().argmax()) if bool(differs.any()) else width
    is_answer = (labels != -100).any(dim=0)
    first_answer = int(is_answer.float().argmax()) if bool(is_answer.any()) else width
    shared = min(same, first_answer - 1)
    return shared if shared >= MIN_SHARED else 0


def answer_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int] | None:
    """(summed NLL over answer tokens, their number), computed as described above; None when the model must be
    called whole (see decoder_and_head)."""
    parts = decoder_and_head(model)
    if parts is None:
        return None
    decoder, head = parts
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    window = getattr(decoder.config, "sliding_window", None)
    shared = shared_prefix_length(ids, labels, window)
    cache = None
    if shared:
        cache = decoder(input_ids=ids[:1, :shared], use_cache=True).cache
        cache.batch_repeat_interleave(ids.shape[0])
    hidden = decoder(input_ids=ids[:, shared:], attention_mask=mask, cache=cache,
                     use_cache=cache is not None).last_hidden_state
    targets = labels[:, shared + 1:]  # position shared + j predicts token shared + j + 1
    scored = targets != -100
    logits = head(hidden[:, :-1][scored])
    loss = torch.nn.functional.cross_entropy(logits.float(), targets[scored], reduction="sum")
    return loss, int(scored.sum())
