import pytest

from studio import memory
from studio.memory import MemoryConfig, MemoryState


def conversation(exchanges: int) -> list[dict]:
    messages = []
    for i in range(1, exchanges + 1):
        messages += [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
    return messages


def count_words(messages):  # a stand-in tokenizer: one token per word
    return sum(len(m["content"].split()) for m in messages)


def no_model(messages):
    raise AssertionError("this memory must not call the model")


@pytest.mark.parametrize(
    "config, expected_contents",
    [
        (MemoryConfig("none"), []),
        (MemoryConfig("buffer"), [f"{w} {i}" for i in range(1, 6) for w in ("question", "answer")]),
        (MemoryConfig("window", k=1), ["question 5", "answer 5"]),
        (MemoryConfig("window", k=2), ["question 4", "answer 4", "question 5", "answer 5"]),
        (MemoryConfig("window", k=9), [f"{w} {i}" for i in range(1, 6) for w in ("question", "answer")]),
        (MemoryConfig("token_budget", max_tokens=8), ["question 4", "answer 4", "question 5", "answer 5"]),
        (MemoryConfig("token_budget", max_tokens=7), ["question 5", "answer 5"]),
        (MemoryConfig("token_budget", max_tokens=3), []),
    ],
)
def test_context_keeps_what_each_memory_promises(config, expected_contents):
    state = MemoryState(messages=conversation(5))
    kept = memory.context(config, state, count_words)
    assert [m["content"] for m in kept] == expected_contents
    assert not kept or kept[0]["role"] == "user"


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_window_keeps_exactly_k_exchanges(k):
    kept = memory.context(MemoryConfig("window", k=k), MemoryState(conversation(6)), count_words)
    assert len(kept) == 2 * k
    assert kept[-1]["content"] == "answer 6" and kept[0]["content"] == f"question {6 - k + 1}"


def test_summary_memory_asks_the_model_and_puts_the_summary_in_the_prompt():
    seen = []

    def fake_model(messages):
        seen.append(messages)
        return "The user is Priya."

    config = MemoryConfig("summary")
    state = memory.record_turn(config, MemoryState(), "My name is Priya", "Hello Priya", count_words, fake_model)
    assert state.summary == "The user is Priya." and state.summarized == 2
    prompt_to_summarizer = seen[0][-1]["content"]
    assert "User: My name is Priya" in prompt_to_summarizer and "Assistant: Hello Priya" in prompt_to_summarizer
    kept = memory.context(config, state, count_words)
    assert kept == [{"role": "system", "content": "Summary of the conversation so far: The user is Priya."}]


def test_summary_is_progressive_it_feeds_the_old_summary_back():
    prompts = []

    def fake_model(messages):
        prompts.append(messages[-1]["content"])
        return f"summary {len(prompts)}"

    config = MemoryConfig("summary")
    state = MemoryState()
    for i in range(3):
        state = memory.record_turn(config, state, f"q{i}", f"a{i}", count_words, fake_model)
    assert state.summary == "summary 3"
    assert "summary 2" in prompts[2] and "User: q2" in prompts[2] and "q1" not in prompts[2]


def test_summary_buffer_folds_old_turns_into_the_summary_and_keeps_recent_ones():
    folded = []

    def fake_model(messages):
        folded.append(messages[-1]["content"])
        return "older turns summarised"

    config = MemoryConfig("summary_buffer", max_tokens=4)
    state = MemoryState()
    for i in range(1, 4):
        state = memory.record_turn(config, state, f"question {i}", f"answer {i}", count_words, fake_model)
    kept = memory.context(config, state, count_words)
    assert kept[0]["content"] == "Summary of the conversation so far: older turns summarised"
    assert [m["content"] for m in kept[1:]] == ["question 3", "answer 3"]
    assert count_words(kept[1:]) <= 4
    assert "question 1" in folded[0] and "question 2" in folded[1]


@pytest.mark.parametrize("kind", ["none", "buffer", "window", "token_budget"])
def test_plain_memories_never_call_the_model(kind):
    state = memory.record_turn(MemoryConfig(kind), MemoryState(), "hi", "hello", count_words, no_model)
    assert state.messages[-2:] == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


@pytest.mark.parametrize("kwargs", [{"kind": "forgetful"}, {"kind": "window", "k": 0}, {"max_tokens": -5}])
def test_bad_memory_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        MemoryConfig(**kwargs)
