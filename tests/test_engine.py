import pytest

from studio import memory
from studio.chat import ChatError, chat_turn
from studio.engines import base, hf, loader, prompts
from studio.engines.base import GenerationSettings
from studio.memory import MemoryConfig, MemoryState
from studio.models import catalogue, refs

SHORT = GenerationSettings(max_new_tokens=10)


def load(tiny_models, family, **kwargs):
    return loader.load_model(f"folder:{tiny_models[family]}", precision="float32", **kwargs)


def run_turn(loaded, config, state, text, settings=SHORT):
    updates = list(chat_turn(loaded, config, state, text, settings))
    return updates, updates[-1]


@pytest.mark.parametrize("family", ["gpt2", "gpt_neox", "llama", "t5"])
def test_reply_streams_and_reports_stats_for_every_family(tiny_models, family):
    loaded = load(tiny_models, family)
    updates, last = run_turn(loaded, MemoryConfig("buffer"), MemoryState(), "Hello there")
    texts = [u.reply for u in updates]
    assert len(set(texts)) >= 3, "the reply should arrive in several growing pieces"
    assert all(b.startswith(a.rstrip()) for a, b in zip(texts, texts[1:]))
    assert 0 < last.stats.new_tokens <= SHORT.max_new_tokens
    assert last.stats.tokens_per_second > 0 and last.stats.prompt_tokens > 0
    assert last.state.messages == [{"role": "user", "content": "Hello there"},
                                   {"role": "assistant", "content": last.reply}]


@pytest.mark.parametrize(
    "family, must_contain, ends_with",
    [
        ("llama", ["<|im_start|>system\nBe brief.", "<|im_start|>user\nMy name is Priya."], "<|im_start|>assistant\n"),
        ("gpt_neox", ["Be brief.\n\nQuestion: My name is Priya.\nAnswer: Hello Priya\n"], "Question: Who am I?\nAnswer:"),
        ("gpt2", ["My name is Priya.<|endoftext|>Hello Priya<|endoftext|>"], "Who am I?<|endoftext|>"),
    ],
)
def test_prompt_follows_the_models_style(tiny_models, family, must_contain, ends_with):
    loaded = load(tiny_models, family)
    messages = [{"role": "user", "content": "My name is Priya."}, {"role": "assistant", "content": "Hello Priya"},
                {"role": "user", "content": "Who am I?"}]
    prompt = prompts.render_prompt(loaded, messages, "Be brief.")
    for part in must_contain:
        assert part in prompt
    assert prompt.endswith(ends_with)


def test_instruction_style_is_dollys(tiny_models):
    loaded = load(tiny_models, "gpt_neox")
    loaded = hf.HFModel(refs.ModelEntry(loaded.entry.ref, "dolly", "gpt_neox", 1, False, "instruction",
                                                  True), loaded.model, loaded.tokenizer, "cpu", "float32")
    prompt = prompts.render_prompt(loaded, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"},
                                           {"role": "user", "content": "Bye"}], "")
    assert prompt.startswith(prompts.DOLLY_INTRO)
    assert "### Instruction:\nHi\n\n### Response:\nYo\n\n### End\n\n### Instruction:\nBye" in prompt
    assert prompt.endswith("### Response:\n")


@pytest.mark.parametrize("kind, name_in_prompt", [("buffer", True), ("window", True), ("none", False)])
def test_prompt_panel_shows_what_memory_kept(tiny_models, kind, name_in_prompt):
    loaded = load(tiny_models, "llama")
    _, first = run_turn(loaded, MemoryConfig(kind, k=1), MemoryState(), "My name is Priya.")
    _, second = run_turn(loaded, MemoryConfig(kind, k=1), first.state, "What is my name?")
    assert ("Priya" in second.prompt) is name_in_prompt
    assert "What is my name?" in second.prompt


def test_token_budget_never_exceeds_its_limit_under_the_real_tokenizer(tiny_models):
    loaded = load(tiny_models, "llama")
    count = prompts.history_token_counter(loaded, GenerationSettings().system_prompt)
    config = MemoryConfig("token_budget", max_tokens=60)
    state = MemoryState()
    for i in range(6):
        _, last = run_turn(loaded, config, state, f"Tell me about claim number {i} please.")
        state = last.state
        kept = memory.context(config, state, count)
        assert count(kept) <= 60
        if kept:  # rendered on their own, the kept turns fit the budget too
            rendered = prompts.render_prompt(loaded, kept, "", add_generation_prompt=False)
            assert len(loaded.tokenizer(rendered, add_special_tokens=False).input_ids) <= 60
    assert count(state.messages) > 60, "the conversation outgrew the budget"
    assert "claim number 0" not in last.prompt, "the oldest turn was dropped"
    assert "claim number 5" in last.prompt


def test_token_counter_counts_real_tokens_not_zero(tiny_models):
    loaded = load(tiny_models, "llama")
    count = prompts.history_token_counter(loaded, "")
    messages = [{"role": "user", "content": "What is the waiting period for pre-existing diseases?"}]
    assert count(messages) >= len(loaded.tokenizer(messages[0]["content"]).input_ids)
    assert count([]) == 0


def test_summary_memory_shows_a_summary_written_by_the_model(tiny_models):
    loaded = load(tiny_models, "llama")
    config = MemoryConfig("summary")
    updates, first = run_turn(loaded, config, MemoryState(), "My name is Priya.")
    assert any(u.status == "Updating the summary..." for u in updates)
    assert first.state.summary, "the model wrote a (gibberish) summary"
    _, second = run_turn(loaded, config, first.state, "What is my name?")
    assert "Summary of the conversation so far: " + first.state.summary in second.prompt
    assert "My name is Priya." not in second.prompt  # only the summary reaches the prompt


@pytest.mark.parametrize(
    "text, stops, expected",
    [("Paris\nQuestion: next", ["\nQuestion:"], ("Paris", True)), ("Paris", ["\nQuestion:"], ("Paris", False)),
     ("a ### End b ### Instruction:", ["### End", "### Instruction:"], ("a ", True))],
)
def testcut_at_stop(text, stops, expected):
    assert base.cut_at_stop(text, stops) == expected


@pytest.mark.parametrize(
    "text, expected", [("Paris\nQue", "Paris"), ("Paris\n", "Paris"), ("Paris", "Paris"), ("Paris\nQ", "Paris")]
)
def test_holdback_hides_a_possible_stop_string_start(text, expected):
    assert base.holdback(text, ["\nQuestion:", "\nQ:"]) == expected


def test_stop_string_ends_the_reply_and_is_not_shown(tiny_models):
    loaded = load(tiny_models, "gpt_neox")
    free = base.ReplyStream(loaded, "Question: hi\nAnswer:", SHORT)
    list(free)
    assert len(free.text) > 3
    loaded.entry = refs.ModelEntry(loaded.entry.ref, "x", "gpt_neox", 1, False, "qa", True)
    stop = free.text[2:4]
    prompts.STOP_STRINGS["qa"].append(stop)
    try:
        stream = base.ReplyStream(loaded, "Question: hi\nAnswer:", SHORT)
        list(stream)
    finally:
        prompts.STOP_STRINGS["qa"].remove(stop)
    assert stop not in stream.text and free.text.startswith(stream.text)


@pytest.mark.parametrize("text, message", [("", "empty"), ("   \n", "empty"), ("x" * 20_001, "limit is 20,000")])
def test_empty_or_huge_messages_are_refused_clearly(tiny_models, text, message):
    loaded = load(tiny_models, "llama")
    with pytest.raises(ChatError, match=message):
        run_turn(loaded, MemoryConfig("buffer"), MemoryState(), text)


def test_long_conversation_is_cut_to_the_models_context_and_still_answers(tiny_models):
    loaded = load(tiny_models, "gpt2")  # 256 positions
    history = MemoryState(messages=[{"role": "user", "content": "word " * 200},
                                    {"role": "assistant", "content": "reply " * 200}])
    _, last = run_turn(loaded, MemoryConfig("buffer"), history, "And now?")
    assert last.stats.truncated_prompt and "cut to fit" in last.stats.describe()
    assert last.stats.prompt_tokens + SHORT.max_new_tokens <= 256
    assert last.prompt.endswith("And now?<|endoftext|>")


def test_leaving_the_stream_early_keeps_the_partial_reply(tiny_models):
    loaded = load(tiny_models, "llama")
    stream = chat_turn(loaded, MemoryConfig("buffer"), MemoryState(), "Hello", GenerationSettings(max_new_tokens=50))
    update = next(u for u in stream if len(u.reply) > 2)
    stream.close()
    assert update.state.messages[-1] == {"role": "assistant", "content": update.reply}


def test_every_prompt_style_has_its_stop_strings_and_every_catalogued_model_a_known_style(tmp_path):
    assert set(prompts.STOP_STRINGS) == set(prompts.PROMPT_STYLES)
    assert {e.prompt_style for e in catalogue.catalogue(runs_dir=tmp_path)} <= set(prompts.PROMPT_STYLES)
    assert base.STOP_STRINGS is prompts.STOP_STRINGS  # the engine stops on what the prompts module defines
