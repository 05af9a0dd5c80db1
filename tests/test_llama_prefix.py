"""The prompt states the llama.cpp engine keeps apart (studio/engines/llama_prefix.py): kept when a prompt shares a
prefix with a recent one, restored after prompts in between, answers the same as from an empty cache, bounded in
number and bytes, and a refusal by llama.cpp costs only the time to read the prompt again."""

from __future__ import annotations

import dataclasses

import pytest

from studio.engines import llama_prefix
from studio.knowledge import store

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make llama installs it)")
from test_llama_engine import GREEDY, stream  # noqa: E402 - a question answered to its end on a fresh chat

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
    """The summary memories' flow: every grounded question follows the summarising prompt."""
    first = stream(fast, "Is maternity covered under Silver?", GROUNDED)
    stream(fast, "Tell me about the weather.", OTHER)
    assert not fast.kept.kept  # nothing was shared yet
    second = stream(fast, "How long is the grace period for renewal?", GROUNDED)  # shares the instructions with first
    assert [k.tokens for k in fast.kept.kept] == [second.prompt_ids]
    stream(fast, "And the weather tomorrow?", OTHER)
    read = reads(fast, monkeypatch)
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    shared = llama_prefix.shared_length(second.prompt_ids, third.prompt_ids)
    assert shared == llama_prefix.shared_length(first.prompt_ids, third.prompt_ids)  # the instructions, no more
    assert shared > len(fast.tokenizer(GROUNDED.system_prompt)["input_ids"]) // 2
    assert fast.kept.restores == 1 and read[0] == len(third.prompt_ids) - shared
    assert third.text == from_scratch(fast, "Which hospitals are in the network?", GROUNDED)


def test_without_kept_states_the_prompt_in_between_costs_the_instructions(fast, monkeypatch):
    fast.kept = None
    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    stream(fast, "How long is the grace period for renewal?", GROUNDED)
    stream(fast, "Tell me about the weather.", OTHER)
    read = reads(fast, monkeypatch)
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    assert read[0] >= len(third.prompt_ids) - 8  # only the chat template's opening was still shared


def test_two_families_of_prompts_in_turn_each_start_from_their_own_state(fast, monkeypatch):
    """The second try of a checked answer: grounded prompt, retry prompt, grounded, retry, ..."""
    retry = dataclasses.replace(GREEDY, system_prompt="You answer for an insurer. Read the key sentences first, "
                                                      "then answer from them and cite the sources.")
    for question in ("Is maternity covered under Silver?", "How long is the grace period for renewal?"):
        stream(fast, question, GROUNDED)
        stream(fast, question, retry)
    before, read = fast.kept.restores, reads(fast, monkeypatch)
    for settings in (GROUNDED, retry):
        read.clear()
        prompt = stream(fast, "Which hospitals are in the network?", settings)
        kept, shared = llama_prefix.best_kept(fast.kept, prompt.prompt_ids)
        assert read[0] == len(prompt.prompt_ids) - shared  # the prompt read, then one token at a time
        assert shared > len(fast.tokenizer(settings.system_prompt)["input_ids"]) // 2
    assert fast.kept.restores - before == 2
    assert prompt.text == from_scratch(fast, "Which hospitals are in the network?", retry)


def test_a_question_asked_again_after_another_prompt_starts_from_its_state_and_keeps_no_copy(fast, monkeypatch):
    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    first = stream(fast, "How long is the grace period for renewal?", GROUNDED)
    stream(fast, "Tell me about the weather.", OTHER)
    read = reads(fast, monkeypatch)
    again = stream(fast, "How long is the grace period for renewal?", GROUNDED)
    assert read[0] == 1 and again.text == first.text  # only the last prompt token, for its logits
    assert [k.tokens for k in fast.kept.kept] == [first.prompt_ids]


def test_at_most_slots_states_are_kept(fast):
    for n in range(llama_prefix.SLOTS + 2):
        family = dataclasses.replace(GREEDY, system_prompt=f"Family {n}: " + store.GROUNDING_INSTRUCTIONS)
        stream(fast, "Is maternity covered under Silver?", family)
        stream(fast, "How long is the grace period for renewal?", family)
    assert len(fast.kept.kept) == llama_prefix.SLOTS
    assert [k.tokens[:12] for k in fast.kept.kept] == [
        stream(fast, "Hi", dataclasses.replace(GREEDY, system_prompt=f"Family {n}: ")).prompt_ids[:12]
        for n in range(2, llama_prefix.SLOTS + 2)]  # the least recently used went first


def test_a_state_over_the_memory_limit_is_not_kept_and_answers_do_not_change(fast, monkeypatch):
    monkeypatch.setattr(llama_prefix, "MAX_BYTES", 1)
    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    second = stream(fast, "How long is the grace period for renewal?", GROUNDED)
    assert not fast.kept.kept
    assert second.text == from_scratch(fast, "How long is the grace period for renewal?", GROUNDED)


def test_a_restore_llama_cpp_refuses_reads_the_prompt_from_scratch(fast, monkeypatch):
    import llama_cpp

    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    stream(fast, "How long is the grace period for renewal?", GROUNDED)
    stream(fast, "Tell me about the weather.", OTHER)
    monkeypatch.setattr(llama_cpp, "llama_state_seq_set_data", lambda *args: 0)
    read = reads(fast, monkeypatch)
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    assert read[0] == len(third.prompt_ids) and fast.kept.restores == 0
    monkeypatch.undo()
    assert third.text == from_scratch(fast, "Which hospitals are in the network?", GROUNDED)


def test_kept_states_outlive_a_likelihood_pass_that_empties_the_cache(fast):
    from studio.engines.llama_cpp import answer_log_likelihood

    stream(fast, "Is maternity covered under Silver?", GROUNDED)
    second = stream(fast, "How long is the grace period for renewal?", GROUNDED)
    answer_log_likelihood(fast, second.prompt_ids + [5, 6], [-100] * len(second.prompt_ids) + [5, 6])
    assert fast.model.n_tokens == 0
    third = stream(fast, "Which hospitals are in the network?", GROUNDED)
    assert fast.kept.restores == 1
    assert third.text == from_scratch(fast, "Which hospitals are in the network?", GROUNDED)


def test_the_evaluation_path_answers_each_question_as_alone_from_an_empty_cache(fast):
    """Evaluation on llama.cpp answers one question at a time through the reply stream; with the cache and the kept
    states carried from question to question, every answer is the one that question gets alone."""
    questions = ["Is maternity covered under Silver?", "How long is the grace period for renewal?",
                 "Which hospitals are in the network?", "Can I port my policy?", "What is the co-payment?"]
    systems = [f"{GROUNDED.system_prompt}\n\nSources:\n\n[1] (faq.csv row {n})\n{q} See clause {n}."
               for n, q in enumerate(questions, 1)]
    answers, _ = fast.answer_batch(questions, GREEDY, 4, systems)
    assert fast.kept.kept  # later questions started from a kept state or the cache
    alone = [from_scratch(fast, q, dataclasses.replace(GREEDY, system_prompt=s)) for q, s in zip(questions, systems)]
    assert answers == alone
