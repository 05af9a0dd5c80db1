"""The llama.cpp engine (llama-cpp-python): the same prompts, settings and reply stream as the transformers engine,
at llama.cpp's speed, with fine-tuned LoRA adapters applied by llama.cpp at run time.

Prompts are rendered and tokenised with the model's Hugging Face tokenizer exactly as on transformers
(engines/prompts.py), and the token ids go to llama.cpp as they are, so both engines read the same prompt. The GGUF
files come from models/gguf_files.py (bundled: the shipped file; folders: converted once; adapters: converted once).
Sampling is ours, on llama.cpp's logits: greedy or temperature/top-p as transformers does it, the repetition penalty
over the reply's own tokens only (llama.cpp's built-in penalty reads the prompt too, which pushes the model away
from the facts in memory), and no end token before min_new_tokens.
"""

from __future__ import annotations

import atexit
import ctypes
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.core import runtime
from studio.engines import llama_files, llama_prefix
from studio.engines.base import GenerationSettings, ReplyStream, Timing, Tokenized, answers_one_at_a_time
from studio.engines.prompts import history_token_counter, render_prompt
from studio.memory import CountTokens, Message
from studio.models import catalogue, gguf_files, weights
from studio.models.refs import ModelEntry, ModelError, ModelRef

MAX_CONTEXT = 8192
"""Context (prompt + reply) allocated for a model, capped: Qwen2.5 declares 32,768 positions, whose KV cache
would hold 400 MB for chats that stay under a few thousand tokens (memory budgets go up to 4,096)."""
TOP_CANDIDATES = 4096
"""Top-p sorts only the most likely tokens when they already hold the top-p mass (a full sort of a 150k
vocabulary costs ~10 ms a token)."""


# -------------------------------------------------------------------------------------------------- loading


@dataclass
class LlamaModel:
    """A model loaded in llama.cpp, behind the same interface as every engine (engines/base.py)."""

    entry: ModelEntry
    model: object
    """llama_cpp.Llama, created with the context below."""
    tokenizer: object
    """The Hugging Face tokenizer: renders prompts, counts tokens for memory, decodes the reply."""
    gguf: Path
    adapter: Path | None
    """A LoRA applied at run time (only when merging it failed; see `lora`)."""
    context: int
    precision: str
    """The GGUF file's weight type, e.g. "Q4_K_M"."""
    end_tokens: np.ndarray
    """Every end-of-generation token llama.cpp knows for this vocabulary."""
    device: str = "cpu"
    engine: str = "llama.cpp"
    engine_note: str = ""
    lora: str = ""
    """How a fine-tuned adapter is applied: merged into `gguf`, or at run time (and why)."""
    threads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    kept: llama_prefix.KeptPrefixes | None = field(default_factory=llama_prefix.KeptPrefixes, repr=False)
    """Prompt states kept apart from the cache (engines/llama_prefix.py); None turns keeping off."""

    @property
    def max_positions(self) -> int:
        return self.context

    def open_stream(self, messages: list[Message], system_prompt: str, settings: GenerationSettings) -> ReplyStream:
        return ReplyStream(self, render_prompt(self, messages, system_prompt), settings)

    def token_counter(self, system_prompt: str) -> CountTokens:
        return history_token_counter(self, system_prompt)

    def start_generation(self, prompt_ids: list[int], settings: GenerationSettings, stop: threading.Event,
                         result: dict) -> tuple[Iterator[str], Callable[[], None]]:
        """The decoded reply after each token, and the generation to run on the model thread (it puts
        "new_tokens" or "error" into `result`)."""
        streamer = TokenQueue(self.tokenizer)

        def run() -> None:
            try:
                result["new_tokens"] = generate(self, prompt_ids, settings, stop, streamer.put)
            except BaseException as e:  # noqa: BLE001 - re-raised in the consumer thread
                result["error"] = e
            finally:
                streamer.end()

        return streamer, run

    def answer_batch(self, questions: list[str], settings: GenerationSettings, batch_size: int,
                     system_prompts: list[str] | None = None) -> tuple[list[str], Timing]:
        """One question at a time, through the chat's own reply stream."""
        return answers_one_at_a_time(self, questions, settings, system_prompts)

    def answer_log_likelihood(self, items: list[Tokenized]) -> tuple[float, int]:
        sums = [runtime.on_model_thread(answer_log_likelihood, self, item.input_ids, item.labels) for item in items]
        return sum(total for total, _ in sums), sum(n for _, n in sums)


def _end_tokens(llm) -> np.ndarray:
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    return np.array([t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)], dtype=np.int64)


def _weight_type(llm, gguf: Path) -> str:
    """The file name's weight type when it states one, else llama.cpp's description ("qwen2 1B Q4_K - Medium")."""
    import llama_cpp

    if kind := llama_files.file_type(gguf):
        return kind
    text = ctypes.create_string_buffer(128)
    llama_cpp.llama_model_desc(llm.model, text, len(text))
    return text.value.decode(errors="replace").split(" ", 2)[-1] or "GGUF"


def load(ref: ModelRef, progress: Callable[[str], None] = print) -> LlamaModel:
    """`ref` in llama.cpp: its GGUF file (an adapter merged into its base's, see merged_gguf), a context of at
    most MAX_CONTEXT tokens, threads from runtime.pick_threads."""
    import llama_cpp

    entry = catalogue.describe(ref)
    if not entry.available:
        raise ModelError(f"{entry.name} is unavailable: {entry.reason}.")
    base = catalogue.adapter_base(ref.id) if ref.kind == "adapter" else ref
    lora, adapter = "", None
    try:
        gguf = base_file = gguf_files.engine_gguf(base, progress)
        if ref.kind == "adapter":
            gguf, adapter, lora = llama_files.adapter_files(ref, base_file, progress)
    except gguf_files.GgufError as e:
        raise ModelError(f"{entry.name} cannot be prepared for llama.cpp: {e}") from e
    context = min(MAX_CONTEXT, llama_files.gguf_context_length(gguf) or MAX_CONTEXT)
    needed = gguf.stat().st_size + (adapter.stat().st_size if adapter else 0)
    if message := weights.ram_shortfall(entry.name, needed):
        raise ModelError(message)
    tokenizer = llama_files.hf_tokenizer(base, base_file, progress)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    threads = runtime.pick_threads()
    progress(f"Loading {entry.name} in llama.cpp ({gguf.name}{', adapter ' + adapter.name if adapter else ''})...")
    try:
        llm = llama_cpp.Llama(model_path=str(gguf), lora_path=str(adapter) if adapter else None, n_ctx=context,
                              n_threads=threads, n_threads_batch=threads, verbose=False)
    except (ValueError, RuntimeError) as e:
        raise ModelError(f"llama.cpp could not load {gguf}: {e}") from e
    _open_models.add(llm)
    return LlamaModel(entry, llm, tokenizer, gguf, adapter, context, _weight_type(llm, gguf), _end_tokens(llm),
                      lora=lora, threads=threads)


_open_models: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_open_models() -> None:
    """Free llama.cpp models while the library is still loaded: left to Llama.__del__ at interpreter exit, the
    freeing runs after llama_cpp's functions are gone and prints a TypeError traceback after every CLI run."""
    for llm in list(_open_models):
        llm.close()


# ----------------------------------------------------------------------------------------------- generation


def _use_threads(loaded: LlamaModel) -> None:
    threads = runtime.pick_threads()
    if threads != loaded.threads:
        import llama_cpp

        llama_cpp.llama_set_n_threads(loaded.model.ctx, threads, threads)
        loaded.threads = threads


def _read_prompt(llm, ids: list[int], prefixes: llama_prefix.KeptPrefixes | None = None) -> None:
    """Evaluate the prompt, reusing the KV cache of the longest prefix it shares with what was evaluated last (the
    previous turn of the same chat) or with a state kept apart (engines/llama_prefix.py), whichever is longer: only
    the new part is computed."""
    last = len(ids) - 1  # the last prompt token is evaluated again for its logits
    shared = min(llama_prefix.shared_length(llm.input_ids[: llm.n_tokens], ids), last)
    kept, from_kept = llama_prefix.best_kept(prefixes, ids) if prefixes is not None else (None, 0)
    from_kept = min(from_kept, last)
    if from_kept > shared:
        shared = from_kept if llama_prefix.restore(llm, prefixes, kept) else 0
    if shared and llm._ctx.kv_cache_seq_rm(-1, shared, -1):
        llm.n_tokens = shared
    else:
        llm.reset()
        shared = 0
    llm.eval(ids[shared:])
    if prefixes is not None:
        llama_prefix.remember(llm, prefixes, ids, from_kept)


def _logits(llm) -> np.ndarray:
    """The next-token logits of the last evaluated token, as a writable view of llama.cpp's buffer."""
    import llama_cpp

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))


def penalise(logits: np.ndarray, reply: list[int], penalty: float) -> None:
    """transformers' repetition penalty (divide positive logits, multiply negative ones), over the reply's
    tokens only."""
    if penalty == 1.0 or not reply:
        return
    seen = np.unique(np.asarray(reply, dtype=np.int64))
    values = logits[seen]
    logits[seen] = np.where(values > 0, values / penalty, values * penalty)


def pick_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """Greedy at temperature 0, else a sample from the top-p nucleus of softmax(logits / temperature)."""
    if temperature <= 0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    top = np.argpartition(scaled, -TOP_CANDIDATES)[-TOP_CANDIDATES:] if scaled.size > TOP_CANDIDATES else \
        np.arange(scaled.size)
    probs = np.exp(scaled - scaled.max())
    total = probs.sum()
    order = top[np.argsort(-probs[top])]
    mass = np.cumsum(probs[order]) / total
    if mass[-1] < top_p and order.size < scaled.size:  # the candidates hold too little: sort them all
        order = np.argsort(-probs)
        mass = np.cumsum(probs[order]) / total
    keep = order[: int(np.searchsorted(mass, top_p)) + 1]  # the smallest set reaching top_p
    chosen = probs[keep] / probs[keep].sum()
    return int(keep[rng.choice(keep.size, p=chosen)])


def generate(loaded: LlamaModel, ids: list[int], settings, stop: threading.Event,
             emit: Callable[[int], None]) -> int:
    """Generate after the prompt `ids`, handing each new token id to `emit`; returns how many were generated
    (the end token included, as transformers counts). Checks `stop` before every token. Runs on the model thread."""
    llm = loaded.model
    _use_threads(loaded)
    rng = np.random.default_rng()
    with loaded.lock:
        _read_prompt(llm, ids, loaded.kept)
        reply: list[int] = []
        while len(reply) < settings.max_new_tokens and not stop.is_set():
            logits = _logits(llm)
            penalise(logits, reply, settings.repetition_penalty)
            if len(reply) < settings.min_new_tokens:
                logits[loaded.end_tokens] = -np.inf
            token = pick_token(logits, settings.temperature, settings.top_p, rng)
            reply.append(token)
            emit(token)
            if token in loaded.end_tokens or len(reply) == settings.max_new_tokens:
                break
            llm.eval([token])
    return len(reply)


class TokenQueue:
    """Token ids from the generating thread to the consumer, who decodes the reply so far (the Hugging Face
    tokenizer, special tokens skipped); partial UTF-8 characters are held back like the transformers streamer."""

    _END = -1

    def __init__(self, tokenizer):
        import queue

        self.tokenizer = tokenizer
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.ids: list[int] = []

    def put(self, token: int) -> None:
        self.queue.put(token)

    def end(self) -> None:
        self.queue.put(self._END)

    def __iter__(self) -> Iterator[str]:
        while (token := self.queue.get()) != self._END:
            self.ids.append(token)
            while not self.queue.empty():  # tokens that arrived meanwhile are decoded once
                more = self.queue.get()
                if more == self._END:
                    self.queue.put(more)
                    break
                self.ids.append(more)
            text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
            if not text.endswith("\ufffd"):
                yield text


def answer_log_likelihood(loaded: LlamaModel, input_ids: list[int], labels: list[int]) -> tuple[float, int]:
    """(summed negative log-likelihood, token count) of the labelled tokens (labels != -100) given the ones before
    them, as training's answer-token loss measures it. Logits are kept only where a label is scored."""
    import llama_cpp

    llm = loaded.model
    with loaded.lock:
        llm.reset()
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        ids = input_ids[-loaded.context:]
        labels = labels[-loaded.context:]
        scored = [i for i in range(1, len(ids)) if labels[i] != -100]
        wanted = {i - 1 for i in scored}  # position i-1 predicts token i
        total, batch = 0.0, llm._batch
        for start in range(0, len(ids), llm.n_batch):
            chunk = ids[start:start + llm.n_batch]
            batch.set_batch(chunk, n_past=start, logits_all=False)
            for j in range(len(chunk)):
                batch.batch.logits[j] = (start + j) in wanted
            llm._ctx.decode(batch)
            for j in range(len(chunk)):
                if start + j in wanted:
                    row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, j), shape=(llm.n_vocab(),))
                    row = row.astype(np.float64)
                    top = row.max()
                    total += top + np.log(np.exp(row - top).sum()) - row[ids[start + j + 1]]
        llm.reset()  # the next prompt is evaluated from scratch: this one left no usable prefix behind
    return total, len(scored)
