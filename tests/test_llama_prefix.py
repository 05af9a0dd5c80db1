"""The prompt prefix the llama.cpp engine keeps apart (studio/engines/llama_prefix.py): kept when two prompts in a
row share it, restored after a prompt in between, answers the same as from an empty cache, bounded, and a refusal
by llama.cpp costs only the time to read the prompt again."""

from __future__ import annotations

import dataclasses

import pytest

from studio.engines import llama_prefix, prompts
from studio.engines.base import GenerationSettings, ReplyStream
from studio.knowledge import store

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make llama installs it)")

GREEDY = GenerationSettings(max_new_tokens=12, repetition_penalty=1.0)
GROUNDED = dataclasses.replace(GREEDY, system_prompt="You answer for an insurer. " + store.GROUNDING_INSTRUCTIONS)
OTHER = dataclasses.replace(GREEDY, system_prompt="Summarise the conversation in one sentence.")


@pytest.mark.parametrize("a, b, expected", [
    ([], [1, 2], 0),
    ([1, 2, 3], [1, 2, 3], 3),
    ([1, 2, 3], [1, 2], 2),
    ([1, 2, 3], [1, 9, 3], 1),
    ([7], [1], 0),
])
def test_shared_length(a, b, expected):
    assert llama_prefix.shared_length(a, b) == expected


def stream(loaded, text: str, settings: GenerationSettings) -> ReplyStream:
    """One question answered on a fresh chat, read to its end (the `fast` fixture: the tiny llama on llama.cpp)."""
    reply = ReplyStream(loaded, prompts.render_prompt(loaded, [{"role": "user", "content": text}],
                                                      settings.system_prompt), settings)
    list(reply)
    return reply


def reads(loaded, monkeypatch) -> list[int]:
    """How many tokens each evaluation call reads from now on."""
    read, real_eval = [], loaded.model.eval
    monkeypatch.setattr(loaded.model, "eval", lambda ids: (read.append(len(ids)), real_eval(ids))[1])
    return read


def from_scratch(loaded, question: str, settings) -> str:
    loaded.model.reset()
    kept, loaded.kept = loaded.kept, None
    try:
        return stream(loaded, question, settings).text
    finally:
        loaded.kept = kept


def test_a_grounded_question_after_another_prompt_reads_only_its_own_part_and_answers_as_from_scratch(
        fast, monkeypatch):
    first = stream(fast, "Is maternity covered under Silver?", GROUNDED)
    assert not fast.kept.tokens  # nothing was shared yet
    second = stream(fast, "How long is the grace period for renewal?", GROUNDED)
    shared = llama_prefix.shared_length(first.prompt_ids, second.prompt_ids)
    assert fast.kept.tokens == second.prompt_ids[:shared]  # the instructions both read
    stream(fast, "Tell me about the weather.", OTHER)  # a prompt in between, sharing nothing worth keeping
    assert fast.kept.tokens == second.prompt_ids[:shared]
    read = reads(fast, monkeypatch)
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    from_kept = llama_prefix.shared_length(fast.kept.tokens, third.prompt_ids)
    assert fast.kept.restores == 1 and from_kept > len(fast.tokenizer(GROUNDED.system_prompt)["input_ids"]) // 2
    assert read[0] == len(third.prompt_ids) - from_kept
    assert third.text == from_scratch(fast, "Which hospitals are in the network?", GROUNDED)


def test_without_a_kept_prefix_the_prompt_in_between_costs_the_instructions(fast, monkeypatch):
    fast.kept = None
    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    stream(fast, "Tell me about the weather.", OTHER)
    read = reads(fast, monkeypatch)
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    assert read[0] >= len(third.prompt_ids) - 8  # only the chat template's opening was still shared


def test_a_prompt_sharing_less_of_the_kept_prefix_does_not_replace_it(fast):
    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    stream(fast, "How long is the grace period for renewal?", GROUNDED)
    kept = list(fast.kept.tokens)
    retry = dataclasses.replace(GREEDY, system_prompt="You answer for an insurer. Read the key sentences first.")
    stream(fast, "How long is the grace period for renewal?", retry)  # shares the system prompt only
    assert fast.kept.tokens == kept


def test_a_longer_shared_prefix_replaces_the_kept_one(fast):
    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    stream(fast, "How long is the grace period for renewal?", GROUNDED)
    before = len(fast.kept.tokens)
    stream(fast, "How long is the grace period for a claim?", GROUNDED)  # shares "How long is the grace period"
    assert len(fast.kept.tokens) > before


def test_a_state_over_the_memory_limit_is_not_kept_and_answers_do_not_change(fast, monkeypatch):
    monkeypatch.setattr(llama_prefix, "MAX_BYTES", 1)
    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    second = stream(fast, "How long is the grace period for renewal?", GROUNDED)
    assert not fast.kept.tokens and fast.kept.state is None
    assert second.text == from_scratch(fast, "How long is the grace period for renewal?", GROUNDED)


def test_a_restore_llama_cpp_refuses_reads_the_prompt_from_scratch(fast, monkeypatch):
    import llama_cpp

    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    stream(fast, "How long is the grace period for renewal?", GROUNDED)
    stream(fast, "Tell me about the weather.", OTHER)
    monkeypatch.setattr(llama_cpp, "llama_state_seq_set_data", lambda *args: 0)
    read = reads(fast, monkeypatch)
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    assert read[0] == len(third.prompt_ids) and fast.kept.restores == 0 and not fast.kept.tokens
    monkeypatch.undo()
    assert third.text == from_scratch(fast, "Which hospitals are in the network?", GROUNDED)


def test_the_kept_prefix_outlives_a_likelihood_pass_that_empties_the_cache(fast):
    from studio.engines.llama_cpp import answer_log_likelihood

    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    second = stream(fast, "How long is the grace period for renewal?", GROUNDED)
    answer_log_likelihood(fast, second.prompt_ids + [5, 6], [-100] * len(second.prompt_ids) + [5, 6])
    assert fast.model.n_tokens == 0
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    assert fast.kept.restores == 1
    assert third.text == from_scratch(fast, "Which hospitals are in the network?", GROUNDED)
