"""The real app, launched in-process and driven through gradio_client as a browser would drive it."""

import threading

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from studio.engines.base import GenerationSettings
from studio.knowledge.grounding import KnowledgeConfig
from studio.memory import MemoryConfig
from studio.ui.chat_settings import chat_settings

SETTINGS = ["Be brief.", 12, 0.0, 0.9, 1.1, "float32"]  # system prompt, max new tokens, temperature, top-p, penalty, precision


@pytest.fixture(scope="module")
def server(tiny_models):
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


def chat(client, tiny_models, text, memory="buffer", model=None):
    job = client.submit(text, model or f"folder:{tiny_models['llama']}", memory, 3, 256, *SETTINGS, api_name="/chat")
    result = job.result(timeout=120)
    return job, result


def reply_text(message):
    content = message["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def test_chat_streams_and_shows_the_prompt(server, tiny_models):
    client = Client(server, verbose=False)
    job, (chatbot, box, prompt, summary, stats, *_rest) = chat(client, tiny_models, "My name is Priya.")
    assert len(job.outputs()) >= 3, "the reply arrived in several pieces"
    assert [m["role"] for m in chatbot] == ["user", "assistant"] and reply_text(chatbot[1])
    first, *later = job.outputs()
    assert first[1] == "" and [reply_text(m) for m in first[0]] == ["My name is Priya."], \
        "the box is emptied and the question shown as soon as it is sent"
    assert all(update[1] == {"__type__": "update"} for update in later), \
        "streaming leaves the box alone: a question typed meanwhile is kept"
    assert "My name is Priya." in prompt and prompt.startswith("<|im_start|>system\nBe brief.")
    assert "tok/s" in stats and "float32" in stats


def test_memory_choice_decides_what_the_next_prompt_holds(server, tiny_models):
    for memory, remembered in [("buffer", True), ("none", False)]:
        client = Client(server, verbose=False)
        chat(client, tiny_models, "My name is Priya.", memory)
        _, (chatbot, _, prompt, *_rest) = chat(client, tiny_models, "What is my name?", memory)
        assert ("Priya" in prompt) is remembered
        assert len(chatbot) == 4  # the conversation is shown whatever the memory keeps


def test_two_clients_never_see_each_others_history(server, tiny_models):
    alice, bob = Client(server, verbose=False), Client(server, verbose=False)
    results = {}

    def talk(name, client):
        chat(client, tiny_models, f"My name is {name}.")
        results[name] = chat(client, tiny_models, "What is my name?")[1]

    threads = [threading.Thread(target=talk, args=args) for args in [("Alice", alice), ("Bob", bob)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert "Alice" in results["Alice"][2] and "Bob" not in results["Alice"][2]
    assert "Bob" in results["Bob"][2] and "Alice" not in results["Bob"][2]
    assert len(results["Alice"][0]) == len(results["Bob"][0]) == 4


def test_clear_resets_memory(server, tiny_models):
    client = Client(server, verbose=False)
    chat(client, tiny_models, "My name is Priya.")
    client.predict(api_name="/clear")
    _, (chatbot, _, prompt, *_rest) = chat(client, tiny_models, "What is my name?")
    assert "Priya" not in prompt and len(chatbot) == 2


@pytest.mark.parametrize(
    "model, message",
    [("folder:/no/such/model", "does not exist"), ("hub:EleutherAI/pythia-12b", "unavailable"),
     ("gibberish", "Unknown model")],
)
def test_bad_model_gives_a_clear_message_and_the_app_keeps_working(server, tiny_models, model, message):
    client = Client(server, verbose=False)
    with pytest.raises(AppError, match=message):
        chat(client, tiny_models, "Hello", model=model)
    chatbot = chat(client, tiny_models, "Hello again")[1][0]
    assert len(chatbot) == 2 and reply_text(chatbot[1])


def test_empty_message_is_refused_with_a_message(server, tiny_models):
    client = Client(server, verbose=False)
    with pytest.raises(AppError, match="empty message"):
        chat(client, tiny_models, "   ")


def test_compare_gives_two_replies_each_with_its_own_stats(server, tiny_models):
    client = Client(server, verbose=False)
    args = [f"folder:{tiny_models['llama']}", f"folder:{tiny_models['gpt2']}", "window", 2, 256, *SETTINGS]
    job = client.submit("Hello, who are you?", *args, api_name="/compare")
    chat_a, chat_b, stats_a, stats_b, box = job.result(timeout=120)
    assert reply_text(chat_a[-1]) and reply_text(chat_b[-1])
    assert "tok/s" in stats_a and "tok/s" in stats_b
    boxes = [update[4] for update in job.outputs()]
    assert boxes[0] == "" and all(b == {"__type__": "update"} for b in boxes[1:]), "a question typed meanwhile stays"
    second = client.submit("And then?", *args, api_name="/compare").result(timeout=120)
    assert len(second[0]) == len(second[1]) == 4  # each side kept its own conversation


CHAT_PARAMETERS = ["message", "model", "memory_kind", "memory_k", "memory_max_tokens", "system_prompt",
                   "max_new_tokens", "temperature", "top_p", "repetition_penalty", "precision",
                   "knowledge_collection", "knowledge_k", "knowledge_refuse_without_source", "knowledge_follow_up",
                   "knowledge_threshold", "engine", "knowledge_answer_style"]


def test_chat_and_compare_parameters_are_named_after_the_settings_they_fill(server):
    endpoints = Client(server, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert [p["parameter_name"] for p in endpoints["/chat"]["parameters"]] == CHAT_PARAMETERS
    assert [p["parameter_name"] for p in endpoints["/compare"]["parameters"]] == [
        "message", "model_a", "model_b", *CHAT_PARAMETERS[2:]]


def test_a_caller_may_pass_only_the_message_or_any_setting_by_name(server, tiny_models):
    client = Client(server, verbose=False)
    job = client.submit(message="My name is Priya.", api_name="/chat")  # every setting at the page's value
    chatbot, _, prompt, _, stats, *_ = job.result(timeout=120)
    assert len(job.outputs()) >= 3 and reply_text(chatbot[-1]) and "tok/s" in stats
    assert "You are a helpful assistant" in prompt and "My name is Priya." in prompt  # the page's system prompt
    job = client.submit(message="What is my name?", memory_kind="none", max_new_tokens=8, system_prompt="Be brief.",
                        api_name="/chat")
    chatbot, _, prompt, *_ = job.result(timeout=120)
    assert len(chatbot) == 4 and "Priya" not in prompt and prompt.startswith("<|im_start|>system\nBe brief.")


@pytest.mark.parametrize(
    "form, memory, settings, precision, knowledge",
    [({"memory_kind": "window", "memory_k": 2.0, "memory_max_tokens": 64.0, "max_new_tokens": 16.0,
       "temperature": 0.5, "precision": "float32"},
      MemoryConfig("window", 2, 64), GenerationSettings(max_new_tokens=16, temperature=0.5), "float32",
      KnowledgeConfig()),
     ({"system_prompt": None, "repetition_penalty": 1.2}, MemoryConfig(),
      GenerationSettings(system_prompt="", repetition_penalty=1.2), "auto", KnowledgeConfig()),
     ({"knowledge_collection": "faq", "knowledge_k": 5.0, "knowledge_refuse_without_source": False,
       "knowledge_follow_up": "rewrite", "knowledge_threshold": 0.3}, MemoryConfig(), GenerationSettings(), "auto",
      KnowledgeConfig("faq", k=5, refuse_without_source=False, follow_up="rewrite", threshold=0.3)),
     ({"knowledge_collection": ""}, MemoryConfig(), GenerationSettings(), "auto", KnowledgeConfig(None))],
)
def test_settings_widgets_fill_their_objects_by_name(form, memory, settings, precision, knowledge, monkeypatch):
    monkeypatch.setattr("studio.ui.chat_settings.collection.names", lambda: ["faq"])  # a collection that exists
    assert chat_settings(form) == (memory, settings, precision, knowledge)
    assert isinstance(chat_settings(form)[1].max_new_tokens, int)
    assert isinstance(chat_settings(form)[3].k, int)


@pytest.mark.parametrize("form, message", [({"memory_kind": "forever"}, "Unknown memory"),
                                           ({"memory_k": 0}, "at least 1"),
                                           ({"knowledge": "faq"}, "Unknown chat setting"),
                                           ({"knowledge_top": 3}, "Unknown chat setting.*knowledge_top"),
                                           ({"knowledge_k": 0}, "between 1 and 20"),
                                           ({"knowledge_follow_up": "guess"}, "Unknown follow-up")])
def test_bad_settings_are_refused_with_a_message(form, message):
    with pytest.raises(gr.Error, match=message):
        chat_settings(form)


def test_models_tab_lists_bundled_and_report_models(server):
    client = Client(server, verbose=False)
    table = client.predict(api_name="/models")
    names = [row[0] for row in table["data"]]
    assert "SmolLM2-135M-Instruct" in names and "flan-t5-base" in names and "dolly-v2-3b" in names


def test_model_pickers_list_adapters_first_and_hide_unavailable_models_until_asked(monkeypatch):
    from studio.models import catalogue
    from studio.models.refs import ModelEntry, ModelRef
    from studio.ui import chat_settings

    def entry(kind, name, available):
        return ModelEntry(ModelRef(kind, name), name, "f", 1, False, "chat", available)

    entries = [entry("bundled", "ready", True), entry("hub", "missing", False), entry("adapter", "newest", True),
               entry("adapter", "older", True), entry("adapter", "base-gone", False), entry("bundled", "also", True)]
    monkeypatch.setattr(catalogue, "catalogue", lambda **kw: entries)
    assert [v for _, v in chat_settings.model_choices()] == ["adapter:newest", "adapter:older", "bundled:ready",
                                                               "bundled:also"]
    shown = chat_settings.model_choices(show_unavailable=True)
    assert [v for _, v in shown][4:] == ["adapter:base-gone", "hub:missing"]
    assert all(label.endswith("unavailable") for label, _ in shown[4:])


def test_what_the_loader_reports_shows_in_the_page_while_the_model_loads(server, tiny_models, monkeypatch):
    """The first chat with an adapter merges it for llama.cpp (about a minute): its progress reached only the
    terminal, the page said "Loading the model..." throughout."""
    from studio.engines import loader

    real = loader.load_model

    def merging(ref, precision="auto", progress=print, **kw):
        progress("Merging the adapter into its base for llama.cpp (about a minute)...")
        return real(ref, precision, progress=progress, **kw)

    monkeypatch.setattr(loader, "load_model", merging)
    job, _ = chat(Client(server, verbose=False), tiny_models, "Hello")
    stats = [update[4] for update in job.outputs()]
    assert "Loading the model: Merging the adapter into its base for llama.cpp (about a minute)..." in stats
    assert "tok/s" in stats[-1]
    args = [f"folder:{tiny_models['llama']}", f"folder:{tiny_models['gpt2']}", "none", 2, 256, *SETTINGS]
    compare_job = Client(server, verbose=False).submit("Hello", *args, api_name="/compare")
    compare_job.result(timeout=120)
    assert any(update[2] == "Loading model B: Merging the adapter into its base for llama.cpp (about a minute)..."
               for update in compare_job.outputs())


def test_start_here_leads_through_the_job_in_tab_order():
    demo = app.build_app(default_model="bundled:smollm2-135m-instruct", compare_model="bundled:smollm2-135m-instruct")
    tabs = [block for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    assert [t.label for t in tabs] == ["Knowledge", "Chat", "Results", "Training", "Compare", "Models"]
    clicks = [f for f in demo.fns.values() if any(event == "click" for _, event in f.targets)
              and [o.__class__.__name__ for o in f.outputs] == ["Tabs"]]
    assert [f.fn().selected for f in clicks] == [tab for _, tab in app.START_HERE] == ["knowledge", "chat", "results"]


@pytest.mark.parametrize("saved", [None, {}, {"messages": "x"}, {"messages": [{"role": "system", "content": "x"}]},
                                   {"messages": [{"role": "user", "content": 3}]}, {"messages": [], "sources": 5}])
def test_a_reload_with_nothing_usable_kept_starts_an_empty_conversation(saved):
    from studio.ui import chat as chat_tab

    chatbot, state, sources = chat_tab.restore(saved)
    assert (chatbot, state.messages, sources) == ([], [], {})


def test_the_browser_keeps_the_conversation_and_a_reload_shows_it_with_its_sources():
    import json

    from studio.memory import MemoryState
    from studio.ui import chat as chat_tab

    passage = {"citation": "faq.csv row 2", "text": "Q: Fee?\nA: 400 rupees.", "used": ["400 rupees."],
               "verdict": "every fact found in the sources", "score": 0.03, "dense_score": 0.6, "bm25_score": 2.0}
    state = MemoryState([{"role": "user", "content": "Fee?"}, {"role": "assistant", "content": "400 rupees."}],
                        "a summary", 0)
    kept = json.loads(json.dumps(chat_tab.remember(state, {1: [passage]})))  # local storage holds JSON
    chatbot, restored, sources = chat_tab.restore(kept)
    assert restored == state and sources == {1: [passage]}
    assert [m["role"] for m in chatbot] == ["user", "assistant", "assistant"]
    assert chatbot[2]["metadata"]["title"].endswith("Sources: [1] faq.csv row 2")
    demo = app.build_app(default_model="bundled:smollm2-135m-instruct", compare_model="bundled:smollm2-135m-instruct")
    (on_load,) = [f for f in demo.fns.values() if f.name == "restore"]
    assert any(event == "load" for _, event in on_load.targets)
    assert [type(block).__name__ for block in on_load.inputs] == ["BrowserState"]
