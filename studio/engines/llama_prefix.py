"""Prompt prefixes whose llama.cpp KV cache is kept apart, so prompts in between do not cost them.

llama.cpp's context holds one sequence: the next prompt reuses what it shares with the last one read and reads the
rest. Between two grounded questions the chat often reads something else: the second try of a checked answer (the
same system prompt, other instructions), the summary memories' summarising call after every turn, a follow-up
rewrite. The next grounded question then read its fixed part (chat template, system prompt, grounding
instructions: about 80 tokens) again. So when a prompt shares a prefix of at least MIN_TOKENS with one of the
RECENT prompts before it, longer than any kept state gives it, its whole state (llama.cpp's per-sequence state:
keys and values, about 12 KB a token for Qwen2.5-0.5B) is copied out after it is read; a later prompt that shares
more with a kept state than with what the cache holds starts from that state, cut to the shared part. SLOTS states
are kept, least recently used dropped first, MAX_BYTES in all. A kept state holds the values computed when its
prompt was read, so a prompt started from it gets the same logits as from the cache.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np

MIN_TOKENS = 16
"""Shorter shared prefixes (a chat template's opening) are not worth a copy."""
RECENT = 4
"""Prompts remembered (their tokens only) to find the prefixes prompts share."""
SLOTS = 3
"""States kept: the grounded prompt, the second try's and one more family of prompts."""
MAX_BYTES = 64 * 1024 * 1024
"""All kept states together; a state larger than this alone is not kept (a long conversation on a large model)."""


@dataclass
class KeptState:
    tokens: list[int]
    """The prompt whose state this is."""
    state: ctypes.Array
    """llama.cpp's state of sequence 0 holding exactly `tokens`."""


@dataclass
class KeptPrefixes:
    kept: list[KeptState] = field(default_factory=list)
    """Least recently used first."""
    recent: list[list[int]] = field(default_factory=list)
    restores: int = 0
    """How many prompts started from a kept state (benches and tests read it)."""


def shared_length(a, b) -> int:
    """How many leading tokens two token sequences share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(np.asarray(a[:n], dtype=np.int64) != np.asarray(b[:n], dtype=np.int64))
    return int(differ[0]) if differ.size else n


def best_kept(prefixes: KeptPrefixes, ids: list[int]) -> tuple[KeptState | None, int]:
    """The kept state sharing the longest prefix with `ids`, and that length."""
    best, length = None, 0
    for kept in prefixes.kept:
        if (n := shared_length(kept.tokens, ids)) > length:
            best, length = kept, n
    return best, length


def restore(llm, prefixes: KeptPrefixes, kept: KeptState) -> bool:
    """Replace what the cache holds by `kept`; False (an empty cache, the state dropped) when llama.cpp refuses."""
    import llama_cpp

    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    prefixes.kept.remove(kept)
    if not llama_cpp.llama_state_seq_set_data(llm.ctx, kept.state, len(kept.state), 0):
        llm.reset()
        return False
    prefixes.kept.append(kept)  # most recently used
    n = len(kept.tokens)
    llm.input_ids[:n] = kept.tokens
    llm.n_tokens = n
    prefixes.restores += 1
    return True


def remember(llm, prefixes: KeptPrefixes, ids: list[int], from_kept: int) -> None:
    """After the prompt `ids` was read (the cache holds exactly it): keep its state when it shares a longer prefix
    with a recent prompt than `from_kept`, what the kept states gave it; then remember it as recent."""
    import llama_cpp

    # capped as from_kept is, so a prompt asked again is not kept twice
    shared = min(max((shared_length(r, ids) for r in prefixes.recent), default=0), len(ids) - 1)
    prefixes.recent = (prefixes.recent + [list(ids)])[-RECENT:]
    if shared < MIN_TOKENS or shared <= from_kept:
        return
    size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
    if not size or size > MAX_BYTES:
        return
    state = (ctypes.c_uint8 * size)()
    if llama_cpp.llama_state_seq_get_data(llm.ctx, state, size, 0) != size:
        return
    prefixes.kept.append(KeptState(list(ids), state))
    while len(prefixes.kept) > SLOTS or sum(len(k.state) for k in prefixes.kept) > MAX_BYTES:
        prefixes.kept.pop(0)
