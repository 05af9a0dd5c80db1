"""The transformers (PyTorch) engine: any causal or seq2seq model transformers loads, on the CPU or a GPU.

It streams replies through model.generate, answers evaluation questions a batch at a time with left padding, and
measures answer-token log-likelihood the way training measures its loss (the functions below are training's too).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor
from transformers.generation.streamers import BaseStreamer

from studio.core import runtime
from studio.engines import answer_logits
from studio.engines.base import GenerationSettings, ReplyStream, Timing, Tokenized, cut_at_stop, timing
from studio.engines.prompts import STOP_STRINGS, history_token_counter, prompts_for, render_prompt
from studio.memory import CountTokens, Message
from studio.models.catalogue import adapter_folder, check_free_ram, describe, weights_folder
from studio.models.refs import ModelEntry, ModelError, ModelRef

ENGINE = "transformers"
MAX_BATCH_PROMPT_TOKENS = 8192
"""Prompt tokens one generation batch may hold (fewer questions per batch when prompts are long): 24 grounded
prompts of ~1,000 tokens in one batch took Qwen2.5-0.5B past 9 GB of RAM and got it killed for memory."""
MAX_BATCH_TOKENS = 6144
"""Padded tokens per forward pass when scoring answers; bigger batches are split into micro-batches (bounded
memory)."""
SCORING_BATCH = 8
"""Answers scored per batch for log-likelihood (as evaluation scored them with training's loss)."""


@dataclass
class HFModel:
    entry: ModelEntry
    model: torch.nn.Module
    tokenizer: object
    device: str
    precision: str
    engine: str = ENGINE
    engine_note: str = ""
    """Why this model runs on transformers although llama.cpp was meant ("auto"), when it does."""

    @property
    def max_positions(self) -> int:
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "n_ctx"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 512 if self.entry.seq2seq else 2048

    def open_stream(self, messages: list[Message], system_prompt: str, settings: GenerationSettings) -> ReplyStream:
        return ReplyStream(self, render_prompt(self, messages, system_prompt), settings)

    def token_counter(self, system_prompt: str) -> CountTokens:
        return history_token_counter(self, system_prompt)

    def start_generation(self, prompt_ids: list[int], settings: GenerationSettings, stop: threading.Event,
                         result: dict) -> tuple[Iterator[str], Callable[[], None]]:
        """The decoded reply after each token, and the generate() call to run on the model thread (it puts
        "new_tokens" or "error" into `result`)."""
        threads = runtime.pick_threads() if self.device == "cpu" else None
        streamer = _TokenStreamer(self.tokenizer)
        input_ids = torch.tensor([prompt_ids]).to(self.device)
        kwargs = generation_kwargs(self, settings, input_ids.shape[1])
        kwargs.update(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), streamer=streamer,
                      stopping_criteria=StoppingCriteriaList([_StopWhenSet(stop)]))

        def run() -> None:
            try:
                if threads:
                    runtime.use_threads(threads)
                with torch.inference_mode():
                    output = self.model.generate(**kwargs)
                result["new_tokens"] = output.shape[1] - (1 if self.entry.seq2seq else input_ids.shape[1])
            except BaseException as e:  # noqa: BLE001 - re-raised in the consumer thread
                result["error"] = e
                streamer.end()

        return streamer, run

    def answer_batch(self, questions: list[str], settings: GenerationSettings, batch_size: int,
                     system_prompts: list[str] | None = None) -> tuple[list[str], Timing]:
        return runtime.on_model_thread(_answer_batch, self, questions, settings, batch_size, system_prompts)

    def answer_log_likelihood(self, items: list[Tokenized]) -> tuple[float, int]:
        pad, seq2seq = self.tokenizer.pad_token_id, self.entry.seq2seq
        batches = [items[i:i + SCORING_BATCH] for i in range(0, len(items), SCORING_BATCH)]
        return runtime.on_model_thread(summed_loss, self.model, batches, pad, seq2seq, self.device)


def load(ref: ModelRef, precision: str, progress: Callable[[str], None]) -> HFModel:
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    entry = describe(ref)
    if not entry.available:
        raise ModelError(f"{entry.name} is unavailable: {entry.reason}.")
    device = runtime.pick_device()
    precision = runtime.resolve_precision(precision, device)
    check_free_ram(ref, precision)
    folder = weights_folder(ref, progress)
    progress(f"Loading {entry.name} on {device} ({precision})...")
    auto = AutoModelForSeq2SeqLM if entry.seq2seq else AutoModelForCausalLM
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = auto.from_pretrained(folder, dtype=runtime.torch_dtype(precision))
        if ref.kind == "adapter":
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_folder(ref.id)).merge_and_unload()
    except torch.OutOfMemoryError as e:
        raise ModelError(f"Out of memory while loading {entry.name}: {e}. Pick a smaller model.") from e
    except (OSError, ValueError) as e:
        raise ModelError(f"Could not load {entry.name} from {folder}: {e}") from e
    model.to(device).eval()
    if precision == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return HFModel(entry, model, tokenizer, device, precision)


# ------------------------------------------------------------------------------------------------ generation


def generation_kwargs(loaded: HFModel, settings: GenerationSettings, prompt_length: int) -> dict:
    """model.generate arguments for these settings (shared by the chat stream, batched answers and RLHF)."""
    tokenizer = loaded.tokenizer
    sampling = settings.temperature > 0
    kwargs = dict(
        max_new_tokens=int(settings.max_new_tokens),
        min_new_tokens=int(settings.min_new_tokens) or None,
        do_sample=sampling,
        temperature=float(settings.temperature) if sampling else None,
        top_p=float(settings.top_p) if sampling else None,
        top_k=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    if settings.repetition_penalty != 1.0:
        ignore = 1 if loaded.entry.seq2seq else prompt_length  # seq2seq: only the decoder start token
        kwargs["logits_processor"] = LogitsProcessorList(
            [RepetitionPenaltyLogitsProcessor(float(settings.repetition_penalty), prompt_ignore_length=ignore)])
    stops = STOP_STRINGS[loaded.entry.prompt_style]
    if stops:
        kwargs.update(stop_strings=stops, tokenizer=tokenizer)
    return kwargs


class _StopWhenSet(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _TokenStreamer(BaseStreamer):
    """Hands the decoded reply so far to the consumer after every token (transformers' TextIteratorStreamer
    waits for a space, so unspaced text would appear all at once). Partial UTF-8 characters are held back."""

    _END = object()

    def __init__(self, tokenizer, skip_first: bool = True):
        self.tokenizer, self.skip_first = tokenizer, skip_first
        self.ids: list[int] = []
        self.queue: queue.Queue = queue.Queue()

    def put(self, value) -> None:
        if self.skip_first:  # generate() first hands over the prompt (or the decoder start token)
            self.skip_first = False
            return
        self.ids.extend(value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not text.endswith("\ufffd"):
            self.queue.put(text)

    def end(self) -> None:
        self.queue.put(self._END)

    def __iter__(self) -> Iterator[str]:
        while (item := self.queue.get()) is not self._END:
            yield item


def _answer_batch(loaded: HFModel, questions, settings, batch_size, system_prompts=None):
    if loaded.device == "cpu":
        runtime.use_threads(runtime.pick_threads())
    tokenizer, seq2seq = loaded.tokenizer, loaded.entry.seq2seq
    stops = STOP_STRINGS[loaded.entry.prompt_style]
    limit = max(16, loaded.max_positions - (0 if seq2seq else settings.max_new_tokens))
    encoded = [ids[-limit:] for ids in prompts_for(loaded, questions, system_prompts or settings.system_prompt)]
    order = sorted(range(len(questions)), key=lambda i: len(encoded[i]))  # similar lengths share a batch
    answers, generated = [""] * len(questions), 0
    start = time.perf_counter()
    for rows in _batches(order, [len(ids) for ids in encoded], batch_size):
        width = max(len(encoded[i]) for i in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):  # causal models read left-padded prompts; T5's encoder is fine either way
            ids[r, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[r, width - len(encoded[i]):] = 1
        kwargs = generation_kwargs(loaded, settings, width)
        with torch.inference_mode():
            out = loaded.model.generate(input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device), **kwargs)
        new = out[:, 1:] if seq2seq else out[:, width:]
        for r, i in enumerate(rows):
            tokens = new[r].tolist()
            if tokenizer.eos_token_id in tokens:
                tokens = tokens[: tokens.index(tokenizer.eos_token_id) + 1]
            generated += len(tokens)
            answers[i] = cut_at_stop(tokenizer.decode(tokens, skip_special_tokens=True), stops)[0].strip()
    return answers, timing(time.perf_counter() - start, generated, batch_size)


def _batches(order: list[int], lengths: list[int], batch_size: int) -> list[list[int]]:
    """`order` cut into batches of at most `batch_size` questions and MAX_BATCH_PROMPT_TOKENS padded prompt tokens
    (`order` is sorted by length, so a batch's last prompt is its widest)."""
    batches, current = [], []
    for i in order:
        if current and (len(current) == batch_size or (len(current) + 1) * lengths[i] > MAX_BATCH_PROMPT_TOKENS):
            batches.append(current)
            current = []
        current.append(i)
    return batches + [current] if current else batches


# ------------------------------------------------------------------------------------- answer-token loss


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
    quick = answer_logits.answer_loss(model, batch)  # a shared prefix once, the output layer on answers only
    if quick is not None:
        return quick
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


def summed_loss(model, batches: list[list[Tokenized]], pad_id: int, seq2seq: bool, device: str) -> tuple[float, int]:
    """(summed answer-token NLL, answer tokens) over `batches`, each split into micro-batches; no gradients."""
    total, count = 0.0, 0
    with torch.no_grad():
        for items in batches:
            for micro in micro_batches(items):
                batch = {k: v.to(device) for k, v in collate(micro, pad_id, seq2seq).items()}
                loss, n = batch_loss(model, batch, seq2seq)
                total, count = total + float(loss.detach()), count + n
    return total, count
