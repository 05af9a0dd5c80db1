"""A prompt prefix whose llama.cpp KV cache is kept apart, so a prompt in between does not cost it.

llama.cpp's context holds one sequence: the next prompt reuses what it shares with the last one read and reads the
rest. Between two grounded questions the chat often reads something else: the second try of a checked answer (the
same system prompt, other instructions), the summary memories' summarising call, a follow-up rewrite. The next
grounded question then read its fixed part (chat template, system prompt, grounding instructions: about 90 tokens)
again. So the longest prefix two prompts in a row have shared is copied out of the cache (llama.cpp's per-sequence
state: its keys and values, about 12 KB a token for Qwen2.5-0.5B) and copied back in when a later prompt shares
more with it than with what the cache holds. One prefix is kept, the one that was last shared at length; its values
are the ones computed when it was read, so a prompt answered from it gets the same logits as from the cache.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np

MIN_TOKENS = 16
"""Shorter shared prefixes (a chat template's opening) are not worth a copy."""
MAX_BYTES = 64 * 1024 * 1024
"""A prefix whose state is larger is not kept (a long conversation on a large model): memory stays bounded."""


@dataclass
class KeptPrefix:
    tokens: list[int] = field(default_factory=list)
    """The prompt tokens whose state is kept."""
    state: ctypes.Array | None = None
    """llama.cpp's state of sequence 0 holding exactly `tokens`."""
    restores: int = 0
    """How many prompts started from it (benches and tests read it)."""


def shared_length(a, b) -> int:
    """How many leading tokens two token sequences share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(np.asarray(a[:n], dtype=np.int64) != np.asarray(b[:n], dtype=np.int64))
    return int(differ[0]) if differ.size else n


def keep(llm, kept: KeptPrefix, tokens: list[int]) -> bool:
    """Copy the cache's state out as the kept prefix; the cache must hold exactly `tokens` (sequence 0)."""
    import llama_cpp

    size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
    if not size or size > MAX_BYTES:
        return False
    state = (ctypes.c_uint8 * size)()
    if llama_cpp.llama_state_seq_get_data(llm.ctx, state, size, 0) != size:
        return False
    kept.tokens, kept.state = list(tokens), state
    return True


def restore(llm, kept: KeptPrefix) -> bool:
    """Replace what the cache holds by the kept prefix; False (and an empty cache) when llama.cpp refuses it."""
    import llama_cpp

    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    if not kept.state or not llama_cpp.llama_state_seq_set_data(llm.ctx, kept.state, len(kept.state), 0):
        llm.reset()
        kept.tokens, kept.state = [], None
        return False
    n = len(kept.tokens)
    llm.input_ids[:n] = kept.tokens
    llm.n_tokens = n
    kept.restores += 1
    return True
