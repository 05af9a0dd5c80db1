"""Chat with a knowledge collection: a tiny chat model, a real all-MiniLM-L6-v2 collection over the test club
handbook and FAQ; the engine directly, then the Chat tab and the Knowledge tab through gradio_client."""

from pathlib import Path

import pytest

from chat import grounding, knowledge, models
from chat.embeddings import available
from chat.engine import ChatError, GenerationSettings, chat_turn
from chat.grounding import KnowledgeConfig, KnowledgeSettingsError
from chat.memory import MemoryConfig, MemoryState

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "embedding model installed")

DATA = Path(__file__).parent / "data" / "knowledge"
SHORT = GenerationSettings(max_new_tokens=6, system_prompt="Be brief.")


@pytest.fixture(scope="module")
def club(tmp_path_factory):
    root = tmp_path_factory.mktemp("knowledge")
    patch = pytest.MonkeyPatch()
    patch.setenv("CQA_KNOWLEDGE_DIR", str(root))
    knowledge.create("club", [DATA / "handbook.md", DATA / "club_faq.csv"])
    yield root
    patch.undo()


@pytest.fixture
def llama(tiny_models):
    return models.load_model(f"folder:{tiny_models['llama']}", precision="float32")


def turn(loaded, state, text, config=None, memory=MemoryConfig("buffer"), settings=SHORT):
    updates = list(chat_turn(loaded, memory, state, text, settings, config))
    return updates[-1]


def test_the_right_passage_goes_into_the_system_prompt_and_memory_keeps_only_the_exchange(club, llama):
    # k=1: the tiny model's 256 positions hold one passage (a longer prompt is cut from the start)
    last = turn(llama, MemoryState(), "How much is the yearly fee for a junior?", KnowledgeConfig("club", k=1))
    assert [p.citation for p in last.sources] == ["handbook.md § 1.1 Fees"]
    assert "[1] (handbook.md § 1.1 Fees)\nThe yearly membership fee is 1,200 rupees for adults and 400" in last.prompt
    assert last.grounding.system_prompt.startswith("Be brief.\n\n" + knowledge.GROUNDING_INSTRUCTIONS)
    assert last.state.messages == [{"role": "user", "content": "How much is the yearly fee for a junior?"},
                                   {"role": "assistant", "content": last.reply}]
    assert last.stats.new_tokens > 0 and last.grounding.seconds > 0


@pytest.mark.parametrize("strategy, query", [
    ("append", "Tell me about the Sunday ride.\nWhat time does it leave?"),
    ("none", "What time does it leave?"),
])
def test_a_follow_up_is_searched_with_the_earlier_question(club, llama, strategy, query):
    config = KnowledgeConfig("club", k=1, follow_up=strategy)
    first = turn(llama, MemoryState(), "Tell me about the Sunday ride.", config)
    second = turn(llama, first.state, "What time does it leave?", config)
    assert second.grounding.query == query
    if strategy == "append":
        assert second.sources[0].citation == "handbook.md § 2.1 Sunday ride"
        assert "6:30 am" in second.prompt


def test_the_rewrite_strategy_asks_the_model_and_times_it(club, llama):
    config = KnowledgeConfig("club", follow_up="rewrite")
    first = turn(llama, MemoryState(), "Tell me about the Sunday ride.", config)
    assert first.grounding.rewrite_seconds == 0  # nothing to rewrite on the first turn
    second = turn(llama, first.state, "What time does it leave?", config)
    assert second.grounding.rewrite_seconds > 0 and second.grounding.query


def test_a_question_without_support_gets_the_no_source_reply_without_the_model(club, llama):
    last = turn(llama, MemoryState(), "What is the capital of France?", KnowledgeConfig("club"))
    assert last.reply == "I have no source for that in club." == grounding.no_source_reply("club")
    assert last.sources == [] and last.stats is None and last.prompt == ""
    assert last.grounding.best_score < knowledge.SUPPORT_THRESHOLD
    assert last.state.messages[-1] == {"role": "assistant", "content": last.reply}


def test_without_the_refusal_the_model_answers_under_the_plain_system_prompt(club, llama):
    config = KnowledgeConfig("club", refuse_without_source=False)
    last = turn(llama, MemoryState(), "What is the capital of France?", config)
    assert last.sources == [] and last.stats.new_tokens > 0
    assert last.prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_no_collection_means_no_retrieval(club, llama):
    for config in (None, KnowledgeConfig(None), KnowledgeConfig("")):
        last = turn(llama, MemoryState(), "How much is the yearly fee for a junior?", config)
        assert last.grounding is None and last.sources == [] and "400 rupees" not in last.prompt


def test_an_unknown_collection_is_a_clear_chat_error(club, llama):
    with pytest.raises(ChatError, match="No collection named 'nope'"):
        turn(llama, MemoryState(), "Hello", KnowledgeConfig("nope"))


@pytest.mark.parametrize("fields, message", [
    ({"k": 0}, "between 1 and 20"),
    ({"mode": "magic"}, "Unknown retrieval mode"),
    ({"follow_up": "guess"}, "Unknown follow-up strategy"),
    ({"follow_up_turns": -1}, "cannot be negative"),
])
def test_bad_knowledge_settings_are_refused(fields, message):
    with pytest.raises(KnowledgeSettingsError, match=message):
        KnowledgeConfig("club", **fields)


@pytest.mark.parametrize("text, cleaned", [
    ("How many deliveries does maternity cover?\nMore text", "How many deliveries does maternity cover?"),
    ('Rewritten question: "What is the Platinum room rent limit?"', "What is the Platinum room rent limit?"),
    ("", "and for Platinum?"),
    ("Note: the time is 6:30", "Note: the time is 6:30"),
])
def test_a_model_rewrite_is_cleaned_to_one_question(text, cleaned):
    assert grounding.clean_rewrite(text, "and for Platinum?") == cleaned
