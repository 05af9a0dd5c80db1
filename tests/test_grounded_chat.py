"""Chat with a knowledge collection: a tiny chat model, a real all-MiniLM-L6-v2 collection over the test club
handbook and FAQ; the engine directly, then the Chat tab and the Knowledge tab through gradio_client."""

import re
from pathlib import Path

import pytest

from studio.answer_check import HOW, UNCHECKED
from studio.chat import ChatError, chat_turn
from studio.engines import loader
from studio.engines.base import GenerationSettings
from studio.knowledge import collection, grounding, store, support
from studio.knowledge.embeddings import available
from studio.knowledge.grounding import KnowledgeConfig, KnowledgeSettingsError
from studio.memory import MemoryConfig, MemoryState

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "embedding model installed")

DATA = Path(__file__).parent / "data" / "knowledge"
SHORT = GenerationSettings(max_new_tokens=6, system_prompt="Be brief.")


@pytest.fixture
def llama(tiny_models):
    return loader.load_model(f"folder:{tiny_models['llama']}", precision="float32")


def turn(loaded, state, text, config=None, memory=None, settings=SHORT):
    updates = list(chat_turn(loaded, memory or MemoryConfig("buffer"), state, text, settings, config))
    return updates[-1]


def test_the_right_passage_goes_into_the_system_prompt_and_memory_keeps_only_the_exchange(club, llama):
    # k=1: the tiny model's 256 positions hold one passage (a longer prompt is cut from the start)
    config = KnowledgeConfig("club", k=1, answer_style="generate")  # the model's reply as it is: its prompt shown
    last = turn(llama, MemoryState(), "How much is the yearly fee for a junior?", config)
    assert [p.citation for p in last.sources] == ["handbook.md § 1.1 Fees"]
    assert "[1] (handbook.md § 1.1 Fees)\nThe yearly membership fee is 1,200 rupees for adults and 400" in last.prompt
    assert last.grounding.system_prompt.startswith("Be brief.\n\n" + store.GROUNDING_INSTRUCTIONS)
    assert last.state.messages == [{"role": "user", "content": "How much is the yearly fee for a junior?"},
                                   {"role": "assistant", "content": last.reply}]
    assert last.stats.new_tokens > 0 and last.grounding.seconds > 0


def test_a_model_without_a_system_prompt_still_reads_the_passages(club, tiny_models):
    dialogpt = loader.load_model(f"folder:{tiny_models['gpt2']}", precision="float32")
    last = turn(dialogpt, MemoryState(), "How much is the yearly fee for a junior?", KnowledgeConfig("club", k=1))
    assert "400 rupees for juniors" in last.prompt and "Be brief." not in last.prompt


@pytest.mark.parametrize("strategy, memory, query", [
    ("append", "buffer", "Tell me about the Sunday ride.\nWhat time does it leave?"),
    ("append", "none", "What time does it leave?"),  # no memory: no earlier turns
    ("none", "buffer", "What time does it leave?"),
])
def test_a_follow_up_is_searched_with_the_earlier_question_memory_keeps(club, llama, strategy, memory, query):
    config, memory = KnowledgeConfig("club", k=1, follow_up=strategy), MemoryConfig(memory)
    first = turn(llama, MemoryState(), "Tell me about the Sunday ride.", config, memory)
    second = turn(llama, first.state, "What time does it leave?", config, memory)
    assert second.grounding.query == query
    if query != "What time does it leave?":
        assert second.sources[0].citation == "handbook.md § 2.1 Sunday ride"
        assert "6:30 am" in second.prompt


def test_an_off_topic_question_after_an_on_topic_one_still_has_no_source(club, llama):
    first = turn(llama, MemoryState(), "Tell me about the Sunday ride.", KnowledgeConfig("club"))
    second = turn(llama, first.state, "What is the capital of France?", KnowledgeConfig("club"))
    assert second.grounding.query.startswith("Tell me about the Sunday ride.")  # the search used the topic...
    assert second.sources == [] and second.reply == "I have no source for that in club."  # ...support did not


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
    assert last.grounding.best_score < store.SUPPORT_THRESHOLD
    assert last.state.messages[-1] == {"role": "assistant", "content": last.reply}


def test_without_the_refusal_the_model_answers_under_the_plain_system_prompt(club, llama):
    config = KnowledgeConfig("club", refuse_without_source=False)
    last = turn(llama, MemoryState(), "What is the capital of France?", config)
    assert last.sources == [] and last.stats.new_tokens > 0
    assert last.prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>")


@pytest.mark.parametrize("config, streaming, final", [
    (KnowledgeConfig("club"), ("Answering from the sources", "asking again with the sentences"), "Knowledge club"),
    (KnowledgeConfig("club", refuse_without_source=False), ("No source matched: the model answers on its own",),
     "tok/s"),
    (None, ("Generating...",), "tok/s"),
])
def test_the_status_line_says_what_happens_at_each_update(club, llama, config, streaming, final):
    """While the model streams, the line never says it answered without the model (it did before: every reply
    streamed under "Answered without the model: no source matched.")."""
    from studio.ui.chat_settings import turn_stats

    question = "How much is the yearly fee for a junior?" if config and config.refuse_without_source else \
        "What is the capital of France?"
    updates = list(chat_turn(llama, MemoryConfig("buffer"), MemoryState(), question, SHORT, config))
    lines = [turn_stats(u, "club") for u in updates]
    assert len(lines) > 2 and all(any(s in line for s in streaming) for line in lines[:-1]), lines
    assert final in lines[-1] and not any("Answered without the model" in line for line in lines)
    refused = [turn_stats(u, "club") for u in chat_turn(llama, MemoryConfig("buffer"), MemoryState(),
                                                         "What is the capital of France?", SHORT,
                                                         KnowledgeConfig("club"))]
    assert refused[-1].endswith("Answered without the model: no source matched.")


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
    ("The last question rewritten to stand on its own:", "and for Platinum?"),
    ("The last question rewritten to stand on its own: and on Platinum?", "and on Platinum?"),
])
def test_a_model_rewrite_is_cleaned_to_one_question(text, cleaned):
    assert grounding.clean_rewrite(text, "and for Platinum?") == cleaned


# ------------------------------------------------------------------------------------------- through the app


@pytest.fixture(scope="module")
def server(club, tiny_models, tmp_path_factory):
    import app

    root = tmp_path_factory.mktemp("app")
    patch = pytest.MonkeyPatch()
    patch.setenv("CQA_RUNS_DIR", str(root / "runs"))
    patch.setenv("CQA_DATA_DIR", str(root / "data"))
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()
    patch.undo()


def text_of(message) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def test_chat_picks_a_collection_by_name_and_shows_each_replys_sources(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    ask = {"knowledge_collection": "club", "knowledge_k": 1, "max_new_tokens": 8, "api_name": "/chat"}
    chatbot, _, prompt, _, stats, *_ = client.submit("How much is the yearly fee for a junior?", **ask).result(120)
    assert [m["role"] for m in chatbot] == ["user", "assistant", "assistant"]
    verdict, sources = chatbot[2]["metadata"]["title"].rsplit(" · Sources: ", 1)  # each reply's check, then sources
    assert sources == "[1] handbook.md § 1.1 Fees" and verdict.split(" · ")[0] in HOW.values()
    assert "400 rupees for juniors" in text_of(chatbot[2]) and "400 rupees for juniors" in prompt
    assert "Knowledge club: 1 passages" in stats
    chatbot, _, prompt, _, stats, *_ = client.submit("What is the capital of France?", **ask).result(120)
    assert text_of(chatbot[-1]) == "I have no source for that in club." and len(chatbot) == 5  # no sources message
    assert chatbot[2]["metadata"]["title"].endswith("1.1 Fees")  # the first reply keeps its sources
    assert prompt.startswith("The model was not called") and "no passage above the threshold" in stats
    # a new topic after two turns: the earlier questions join the search, so the default k=3 is needed here
    chatbot, *_ = client.submit("What time does the Sunday ride leave?", **(ask | {"knowledge_k": 3})).result(120)
    assert "handbook.md § 2.1 Sunday ride" in chatbot[-1]["metadata"]["title"] and len(chatbot) == 8
    assert "6:30 am" in text_of(chatbot[-1])


def test_a_grounded_conversation_downloads_with_its_checks_sources_and_settings(server):
    import json

    from gradio_client import Client

    client = Client(server, verbose=False)
    ask = {"knowledge_collection": "club", "knowledge_k": 1, "max_new_tokens": 8}
    chatbot, *_ = client.submit("How much is the yearly fee for a junior?", api_name="/chat", **ask).result(120)
    record = json.loads(Path(client.predict(api_name="/export_chat_json", **ask)).read_text())
    question, reply = record["messages"]
    assert question == {"role": "user", "content": "How much is the yearly fee for a junior?"}
    assert text_of(chatbot[1]).startswith(reply["content"]) and reply["verdict"] == chatbot[2]["metadata"]["title"].split(
        " · Sources: ")[0]
    assert [s["citation"] for s in reply["sources"]] == ["handbook.md § 1.1 Fees"] and reply["sources"][0]["n"] == 1
    assert record["settings"]["knowledge"]["collection"] == "club" and record["settings"]["generation"][
        "max_new_tokens"] == 8
    markdown = Path(client.predict(api_name="/export_chat_markdown", **ask)).read_text()
    assert "**You:** How much is the yearly fee for a junior?" in markdown
    assert "- [1] handbook.md § 1.1 Fees." in markdown and "knowledge collection club" in markdown
    fresh = json.loads(Path(Client(server, verbose=False).predict(api_name="/export_chat_json")).read_text())
    assert fresh["messages"] == [], "another visitor's download holds only their own conversation"


@pytest.mark.parametrize("reply, used, shown", [
    ("It costs 400 rupees.", [["It costs 400 rupees."], []], "It costs 400 rupees. [1]"),
    ("It costs 400 rupees.", [[], ["x"], ["y"]], "It costs 400 rupees. [2][3]"),
    ("It costs 400 rupees [2].", [["x"], ["y"]], "It costs 400 rupees [2]."),
    ("I have no source for that in club.", [[], []], "I have no source for that in club."),
])
def test_a_reply_shows_the_numbers_of_the_sources_it_used(reply, used, shown):
    from studio.ui.chat_settings import with_markers

    assert with_markers(reply, [{"used": u} for u in used]) == shown


def test_without_a_collection_chat_shows_no_sources(server):
    from gradio_client import Client

    chatbot, *_ = Client(server, verbose=False).submit("How much is the yearly fee for a junior?", max_new_tokens=8,
                                                       api_name="/chat").result(120)
    assert [m["role"] for m in chatbot] == ["user", "assistant"] and not (chatbot[1].get("metadata") or {}).get("title")


def test_compare_grounds_both_models_on_the_same_collection(server):
    from gradio_client import Client

    chat_a, chat_b, stats_a, stats_b, _ = Client(server, verbose=False).submit(
        "Is a helmet required on club rides?", knowledge_collection="club", knowledge_k=1, max_new_tokens=8,
        api_name="/compare").result(120)
    for chatbot, stats in ((chat_a, stats_a), (chat_b, stats_b)):
        assert chatbot[-1]["metadata"]["title"].endswith(" · Sources: [1] handbook.md § 2.2 Safety")
        assert "Knowledge club: 1 passages" in stats


def test_an_unknown_collection_is_a_clear_message(server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="No collection named 'gone'"):
        Client(server, verbose=False).submit("Hello", knowledge_collection="gone", api_name="/chat").result(120)


# ------------------------------------------------------------------------------------------- the Knowledge tab


def test_knowledge_tab_builds_a_collection_from_the_sample_faq_and_searches_it(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    faq = "assets/insurer_faq.csv"  # as the page offers it: no server path
    message, table, *_ = client.predict("nilgiri", [faq], [], api_name="/knowledge_add")
    assert message.startswith("✅ Added to **nilgiri**: insurer_faq.csv (") and "passages" in message
    assert ["nilgiri", "insurer_faq.csv"] == table["data"][-1][:2] or any(
        row[:2] == ["nilgiri", "insurer_faq.csv"] for row in table["data"])
    found = client.predict("nilgiri", "How many deliveries are covered?", 3, api_name="/knowledge_search")
    assert found.startswith("In the order the chat gives them") and "**[1] insurer_faq.csv row " in found
    assert "2 deliveries" in found
    ranks = [float(x) for x in re.findall(r"rank score ([0-9.]+) \(meaning", found)]
    assert len(ranks) == 3 and ranks == sorted(ranks, reverse=True), "listed in the order of the score shown"
    chatbot, *_ = client.submit("How many deliveries are covered?", knowledge_collection="nilgiri", knowledge_k=1,
                                max_new_tokens=8, api_name="/chat").result(120)
    assert " · Sources: [1] insurer_faq.csv row " in chatbot[-1]["metadata"]["title"]
    message, *_ = client.predict("nilgiri", "insurer_faq.csv", api_name="/knowledge_delete")
    assert "Removed insurer_faq.csv" in message
    message, *_ = client.predict("nilgiri", "", api_name="/knowledge_delete")
    assert "Deleted collection 'nilgiri'" in message and "nilgiri" not in collection.names()


def test_a_page_loaded_later_lists_collections_and_datasets_added_since_the_app_started(club, tiny_models,
                                                                                       tmp_path, monkeypatch):
    """A reload showed an empty Knowledge tab and the sample alone as training data: the widgets kept the values
    they had when the app was built. Now every page load refills them."""
    import app
    from studio.data import registry

    monkeypatch.setenv("CQA_DATA_DIR", str(tmp_path / "data"))
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    on_load = {f"{f.fn.__module__.rsplit('.', 1)[-1]}.{f.name}": f for f in demo.fns.values()
               if any(event == "load" for _, event in f.targets)}
    assert set(on_load) == {"knowledge.page_view", "training.page_choices", "results.page_choices", "chat.restore"}
    store.create("later", [DATA / "club_faq.csv"])
    registry.register(DATA / "club_faq.csv", name="club-pairs")
    try:
        rows, picker, _files = on_load["knowledge.page_view"].fn()
        assert ["later", "club_faq.csv"] == rows[[r[0] for r in rows].index("later")][:2]
        assert "later" in [value for _, value in picker.choices]
        data, _model = on_load["training.page_choices"].fn()
        assert any(label.startswith("club-pairs") for label, _ in data.choices)
        grid_data, grid_tests, grid_collections = on_load["results.page_choices"].fn()
        assert any(label.startswith("club-pairs") for label, _ in grid_data.choices + grid_tests.choices)
        assert "later" in [value for _, value in grid_collections.choices]
    finally:
        store.delete("later")


@pytest.mark.parametrize("name, content, expected", [
    ("club", "", "empty"),
    ("club", b"%PDF-1.4 not really a pdf", "notes.pdf"),
    ("../escape", "Some text.", "not a valid collection name"),
])
def test_knowledge_tab_refuses_a_bad_file_or_name_and_leaves_the_collection_unchanged(server, club, tmp_path, name,
                                                                                      content, expected):
    from gradio_client import Client, handle_file

    bad = tmp_path / ("notes.pdf" if isinstance(content, bytes) else "notes.txt")
    bad.write_bytes(content) if isinstance(content, bytes) else bad.write_text(content)
    before = {p: p.read_bytes() for p in (club / "club").rglob("*") if p.is_file()}
    message, *_ = Client(server, verbose=False).predict(name, [], [handle_file(str(bad))],
                                                                api_name="/knowledge_add")
    assert message.startswith("⚠️ **Nothing was added.**") and expected in message
    assert {p: p.read_bytes() for p in (club / "club").rglob("*") if p.is_file()} == before


def test_knowledge_tab_asks_for_something_to_add_and_for_a_question(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    message, *_ = client.predict("club", [], [], api_name="/knowledge_add")
    assert "Choose a Q/A dataset or upload" in message
    assert "Type a question" in client.predict("club", "  ", 3, api_name="/knowledge_search")
    assert "No collection named 'gone'" in client.predict("gone", "Hi", 3, api_name="/knowledge_search")


def test_knowledge_tab_queues_an_evaluation_of_the_collection_or_says_why_not(server, monkeypatch):
    from gradio_client import Client

    from studio.jobs import queue

    queued = []
    monkeypatch.setattr(queue, "submit_checked", lambda job, owner="": queued.append(job) or "run-1")
    client = Client(server, verbose=False)
    model = "bundled:qwen2.5-coder-0.5b-instruct"
    message = client.predict("club", model, "", 20, "auto", api_name="/knowledge_evaluate")
    assert "Nothing was queued" in message and "has 3 Q/A pairs: holding out 20 needs at least 25" in message
    message = client.predict("", model, "", 20, "auto", api_name="/knowledge_evaluate")
    assert "Pick a collection first" in message and not queued
    test = "assets/test_brief.csv"  # as the page offers it
    message = client.predict("club", model, test, 20, "quote", api_name="/knowledge_evaluate")
    assert "Queued **run-1**" in message and "test_brief.csv" in message
    (job,) = queued
    assert (job.model, job.tests, job.knowledge, job.holdout, job.answer_style) == (model, [test], "club", 0, "quote")


def test_shared_mode_refuses_a_server_path_as_a_knowledge_source(club, monkeypatch, tmp_path):
    from studio.ui import knowledge_form

    monkeypatch.setenv("CQA_SHARED", "1")
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\n\nThe server's notes.")
    with pytest.raises(knowledge_form.KnowledgeFormError, match="refused in shared mode"):
        knowledge_form.add_to_collection("club", [str(outside)], [])
    assert "secret.md" not in store.list_collections()[0].files


# ------------------------------------------------------------------------------------------- answer styles


def test_quote_answers_from_the_sources_without_the_model(club, llama):
    last = turn(llama, MemoryState(), "How much is the yearly fee for a junior?",
                KnowledgeConfig("club", k=1, answer_style="quote"))
    assert last.reply == ("From handbook.md § 1.1 Fees: The yearly membership fee is 1,200 rupees for adults and 400 "
                          "rupees for juniors under 16. Fees are due every April.")  # its best two sentences
    assert last.stats is None and last.prompt == "" and last.answer.how == "quote" and last.answer.check.supported
    assert last.answer.check.used == {0: ["The yearly membership fee is 1,200 rupees for adults and 400 rupees for "
                                          "juniors under 16.", "Fees are due every April."]}
    assert last.state.messages[-1] == {"role": "assistant", "content": last.reply}  # memory keeps what was shown


def test_auto_replaces_an_unsupported_reply_after_a_second_try(club, llama):
    updates = list(chat_turn(llama, MemoryConfig("buffer"), MemoryState(), "How much is the yearly fee for a junior?",
                             SHORT, KnowledgeConfig("club", k=1)))
    last = updates[-1]
    assert not support.check(last.answer.replaced, last.grounding.query, last.sources).supported  # gibberish
    asked_again = [u for u in updates if u.answer and u.status.startswith("The answer was not taken from the")]
    assert len(asked_again) == 1 and asked_again[0].answer.how == "model"
    assert "\n\nKey sentences:\n- The yearly membership fee" in last.prompt  # the second try's prompt (its start is cut to
    # the tiny model's 256 positions)
    assert last.answer.how == "quote" and last.reply.startswith(UNCHECKED + "From handbook.md § 1.1 Fees: ")
    assert all("checked against them" in u.status for u in updates[:3] if u.state and not u.answer)


def test_generate_keeps_the_models_reply_and_says_what_the_check_found(club, llama):
    last = turn(llama, MemoryState(), "How much is the yearly fee for a junior?",
                KnowledgeConfig("club", k=1, answer_style="generate"))
    assert last.answer.how == "model" and last.reply == last.answer.text and last.answer.replaced == ""
    assert last.answer.describe() == f"{HOW['model']} · {last.answer.check.verdict()}"


def test_an_unknown_answer_style_is_refused():
    with pytest.raises(KnowledgeSettingsError, match="Unknown answer style 'guess'"):
        KnowledgeConfig("club", answer_style="guess")


def test_the_chat_tab_quotes_and_shows_the_used_sentence(server):
    from gradio_client import Client

    chatbot, _, prompt, _, stats, *_ = Client(server, verbose=False).submit(
        "How much is the yearly fee for a junior?", knowledge_collection="club", knowledge_k=1,
        knowledge_answer_style="quote", api_name="/chat").result(120)
    assert text_of(chatbot[1]).startswith("From handbook.md § 1.1 Fees: The yearly membership fee is 1,200 rupees")
    assert chatbot[2]["metadata"]["title"] == ("quoted from the sources · every fact found in the sources · Sources: "
                                               "[1] handbook.md § 1.1 Fees")
    assert "Used: *“The yearly membership fee is 1,200 rupees" in text_of(chatbot[2])
    assert "> **The yearly membership fee is 1,200 rupees" in text_of(chatbot[2]), "highlighted in its passage"
    assert prompt == "The model was not called: the answer style quotes the sources."
    assert "quoted from the sources" in stats


@pytest.mark.parametrize("name, message", [("gone", "No collection named 'gone'"),
                                           ("../x", "not a valid collection name")])
def test_a_bad_collection_is_refused_before_the_model_loads(tmp_path, monkeypatch, name, message):
    import gradio as gr

    from studio.memory import MemoryState
    from studio.ui import chat

    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path))
    monkeypatch.setattr(chat, "loading", lambda *a: pytest.fail("the model was loaded"))
    with pytest.raises(gr.Error, match=message):
        next(chat.respond("Hi", "bundled:smollm2-135m-instruct", MemoryState(), knowledge_collection=name))
