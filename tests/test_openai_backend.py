"""Chat models on an OpenAI-compatible server, against a real one: llama-cpp-python's own server
(`python -m llama_cpp.server`) started here on a tiny random GGUF (its words are gibberish: the tests check the
protocol, memory, retrieval, stop and errors), and once on the bundled Qwen2.5-Coder-0.5B for a real answer."""

from __future__ import annotations

import itertools
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from studio import access, memory
from studio.chat import chat_turn
from studio.engines import base, loader, remote
from studio.engines.base import GenerationSettings
from studio.engines.remote import (
    MESSAGE_OVERHEAD_TOKENS,
    OPTIONAL_FIELDS,
    RemoteModel,
    count_text,
    estimate_tokens,
    request_body,
    token_counter,
)
from studio.knowledge.grounding import KnowledgeConfig
from studio.memory import MemoryConfig, MemoryState
from studio.models import catalogue, refs, servers
from studio.models.refs import ModelError, ModelRef

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make llama installs it)")
pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python's server extras are missing: pip install -r "
                                                   "requirements-llama.txt (sse-starlette, starlette-context, ...)")

KEY = "test-key-123"
SHORT = GenerationSettings(max_new_tokens=12, system_prompt="Be brief.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gguf: Path, alias: str, log: Path, api_key: str = "", context: int = 1024, threads: int = 1):
    """llama-cpp-python's server on a free port; returns (process, base URL) once /v1/models answers."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context), "--n_threads", str(threads),
               "--n_threads_batch", str(threads), "--verbose", "False"] + (["--api_key", api_key] if api_key else [])
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", headers=headers, timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    pytest.fail(f"the server did not start within 120 s:\n{log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def tiny_server(tiny_llama_gguf, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    process, url = start_server(tiny_llama_gguf, "tiny", log, api_key=KEY)
    yield url, log
    stop_server(process)


@pytest.fixture
def tiny(tiny_server, monkeypatch, tmp_path) -> base.LoadedModel:
    """The tiny server configured by the environment as "tinysrv", settings in a folder of the test's own."""
    monkeypatch.setenv("CQA_OPENAI_BASE_URL", tiny_server[0])
    monkeypatch.setenv("CQA_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("CQA_OPENAI_NAME", "tinysrv")
    monkeypatch.setenv("CQA_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("CQA_SHARED", "0")
    servers._model_lists.clear()
    return loader.load_model("openai:tiny@tinysrv")


def turn(loaded, state, text, config=None, settings=SHORT, knowledge=None):
    return list(chat_turn(loaded, config or MemoryConfig("buffer"), state, text, settings, knowledge))


# ---------------------------------------------------------------------------------------------------- references


@pytest.mark.parametrize("text, model, server", [
    ("openai:tiny@local", "tiny", "local"),
    ("openai:llama3.2:1b@ollama", "llama3.2:1b", "ollama"),  # Ollama's names hold a colon
    ("openai:Qwen/Qwen2.5-0.5B-Instruct@vllm", "Qwen/Qwen2.5-0.5B-Instruct", "vllm"),
    ("openai:my-adapter@http://127.0.0.1:8000/v1", "my-adapter", "http://127.0.0.1:8000/v1"),
    ("openai:a@b@srv", "a@b", "srv"),
])
def test_a_reference_is_a_small_string_naming_model_and_server(text, model, server):
    ref = ModelRef.parse(text)
    assert ref.kind == "openai" and str(ref) == text and ModelRef.parse(json.loads(json.dumps(str(ref)))) == ref
    assert servers.split_id(ref.id) == (model, server)


@pytest.mark.parametrize("text, tokens", [("", 0), ("abc", 1), ("abcd", 2), ("x" * 35, 10), ("x" * 36, 11)])
def test_the_estimate_without_a_tokenize_endpoint(text, tokens):
    assert estimate_tokens(text) == tokens


# ---------------------------------------------------------------------------------------------- catalogue, access


def test_the_servers_models_are_in_the_chat_pickers_with_availability(tiny, monkeypatch):
    monkeypatch.setenv("CQA_OPENAI_MODELS", "ghost")
    servers._model_lists.clear()
    remote = {str(e.ref): e for e in catalogue.catalogue(remote=True) if e.ref.kind == "openai"}
    assert remote["openai:tiny@tinysrv"].available
    assert not remote["openai:ghost@tinysrv"].available
    assert "does not serve 'ghost'; it lists tiny" in remote["openai:ghost@tinysrv"].reason
    assert all(e.ref.kind != "openai" for e in catalogue.catalogue())  # Training and Results do not ask servers
    from studio.ui import chat_settings, models

    row = next(r for r in models.catalogue_rows() if r[1] == "openai:tiny@tinysrv")
    assert row[6] == "yes" and row[7] == "openai-compatible"
    assert "served by tinysrv" in chat_settings.describe_model("openai:tiny@tinysrv")


def test_shared_mode_allows_only_configured_servers(tiny, tiny_server, monkeypatch):
    monkeypatch.setenv("CQA_SHARED", "1")
    access.check_model_ref("openai:tiny@tinysrv")
    for typed in (f"openai:tiny@{tiny_server[0]}", "openai:tiny@http://169.254.169.254/latest", "openai:tiny@other"):
        with pytest.raises(access.AccessError, match="refused in shared mode.*configured"):
            access.check_model_ref(typed)
    with pytest.raises(access.AccessError, match="cannot be changed in shared mode"):
        access.check_settings_change()
    from studio.ui import models

    message, *_ = models.save_server("mine", "http://127.0.0.1:9/v1", "k", "")
    assert message.startswith("⚠️") and "shared mode" in message
    assert not (Path(os.environ["CQA_SETTINGS_DIR"]) / servers.SERVERS_FILE).exists()


def test_a_saved_server_keeps_its_key_owner_only_and_never_shows_it(tiny, tiny_server):
    from studio.ui import models

    message, table, key_box, _ = models.save_server("saved", tiny_server[0], KEY, "tiny")
    assert message.startswith("Saved server saved") and key_box == ""
    saved = Path(os.environ["CQA_SETTINGS_DIR"]) / servers.SERVERS_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert KEY not in json.dumps(table) and ["saved", tiny_server[0], "yes", "saved"] == table[-1][:4]
    servers.save_server("saved", tiny_server[0], "", "tiny")  # an empty key keeps the saved one
    assert servers.servers()["saved"].api_key == KEY
    assert catalogue.describe(ModelRef.parse("openai:tiny@saved")).available
    assert "Removed" in models.remove_server("saved")[0] and "saved" not in servers.servers()


@pytest.mark.parametrize("name, url, message", [
    ("", "http://127.0.0.1:8000/v1", "not a server name"),
    ("a b", "http://127.0.0.1:8000/v1", "not a server name"),
    ("tinysrv", "http://127.0.0.1:8000/v1", "set by the environment"),
    ("ok", "127.0.0.1:8000", "not a server URL"),
    ("ok", "file:///etc/passwd", "not a server URL"),
])
def test_bad_server_settings_are_refused_with_a_message(tiny, name, url, message):
    with pytest.raises(ModelError, match=message):
        servers.save_server(name, url)
    assert set(servers.servers()) == {"tinysrv"}


def test_a_broken_settings_file_is_reported_and_never_overwritten(tiny):
    saved = Path(os.environ["CQA_SETTINGS_DIR"]) / servers.SERVERS_FILE
    saved.parent.mkdir(parents=True)
    saved.write_text('{"servers": [{"name": "mine", "base_url": ')  # cut short
    assert [str(e.ref) for e in catalogue.catalogue(remote=True) if e.ref.kind == "openai"] == ["openai:tiny@tinysrv"]
    with pytest.raises(ModelError, match="cannot be read.*fix or delete it"):
        servers.save_server("other", "http://127.0.0.1:8000/v1")
    assert saved.read_text() == '{"servers": [{"name": "mine", "base_url": '


def test_a_remote_model_chats_only_its_weights_are_not_here(tiny):
    with pytest.raises(ModelError, match="runs on its server: it can chat, but its weights are not here to train"):
        catalogue.weights_folder(ModelRef.parse("openai:tiny@tinysrv"))


def test_a_remote_model_is_kept_per_server_settings(tiny, monkeypatch):
    assert loader.load_model("openai:tiny@tinysrv") is tiny  # token counts are kept with it
    monkeypatch.setenv("CQA_OPENAI_MODELS", "tiny,other")  # settings changed: a new one
    assert loader.load_model("openai:tiny@tinysrv") is not tiny


# -------------------------------------------------------------------------------------------------- bad servers


def test_a_server_that_is_down_is_reported_at_once(tiny, monkeypatch):
    monkeypatch.setenv("CQA_OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    servers._model_lists.clear()
    start = time.perf_counter()
    entry = catalogue.describe(ModelRef.parse("openai:tiny@tinysrv"))
    assert not entry.available and "cannot be reached" in entry.reason and "is it running" in entry.reason
    with pytest.raises(ModelError, match="cannot be reached"):
        loader.load_model("openai:tiny@tinysrv")
    assert time.perf_counter() - start < 3


def test_a_server_that_never_answers_costs_the_page_at_most_the_check_timeout(tiny, monkeypatch):
    with socket.socket() as hung:  # accepts connections (the backlog) and never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        monkeypatch.setenv("CQA_OPENAI_BASE_URL", f"http://127.0.0.1:{hung.getsockname()[1]}/v1")
        servers._model_lists.clear()
        start = time.perf_counter()
        rows = [e for e in catalogue.catalogue(remote=True) if e.ref.kind == "openai"]
        assert time.perf_counter() - start < servers.CHECK_TIMEOUT + 1.5
    assert len(rows) == 1 and not rows[0].available
    assert f"did not answer within {servers.CHECK_TIMEOUT:g} s" in rows[0].reason


def test_a_model_the_server_does_not_serve_is_refused(tiny):
    entry = catalogue.describe(ModelRef.parse("openai:nope@tinysrv"))
    assert not entry.available and entry.reason == "tinysrv does not serve 'nope'; it lists tiny"
    with pytest.raises(ModelError, match="does not serve 'nope'"):
        loader.load_model("openai:nope@tinysrv")


def test_a_wrong_key_is_reported_as_such(tiny, monkeypatch):
    monkeypatch.setenv("CQA_OPENAI_API_KEY", "wrong")
    servers._model_lists.clear()
    assert "refused the API key (HTTP 401)" in catalogue.describe(ModelRef.parse("openai:tiny@tinysrv")).reason
    wrong = RemoteModel(tiny.entry, servers.servers()["tinysrv"], "tiny")
    with pytest.raises(ModelError, match="refused the API key"):  # the chat request itself, too
        turn(wrong, MemoryState(), "Hello")


# -------------------------------------------------------------------------------------------------- chatting


def test_a_turn_streams_with_stats_and_the_messages_sent(tiny):
    updates = turn(tiny, MemoryState(), "Hello there")
    texts = [u.reply for u in updates]
    assert len(texts) > 2 and all(a == b[:len(a)] for a, b in itertools.pairwise(texts[1:]))  # cumulative, streamed
    last = updates[-1]
    assert last.state.messages == [{"role": "user", "content": "Hello there"},
                                   {"role": "assistant", "content": last.reply}] and last.reply
    sent = json.loads(last.prompt.split("\n", 1)[1])
    assert last.prompt.startswith(f"POST {servers.servers()['tinysrv'].base_url}/chat/completions (model tiny)")
    assert sent == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    assert last.stats.engine == "openai-compatible" and last.stats.server == "tinysrv"
    assert 0 < last.stats.new_tokens <= SHORT.max_new_tokens and last.stats.tokens_per_second > 0
    assert last.stats.describe().startswith("openai-compatible (tinysrv) · ")
    assert last.stats.prompt_tokens == token_counter(tiny)(sent)


def test_max_new_tokens_bounds_the_reply(tiny):
    short = turn(tiny, MemoryState(), "Hello", settings=GenerationSettings(max_new_tokens=2))[-1]
    longer = turn(tiny, MemoryState(), "Hello", settings=GenerationSettings(max_new_tokens=30))[-1]
    assert 0 < short.stats.new_tokens <= 2 < longer.stats.new_tokens and len(short.reply) < len(longer.reply)


def test_a_server_that_refuses_the_optional_fields_is_asked_again_without_them(tiny, monkeypatch):
    monkeypatch.setattr(remote, "_refuses_optional", set())
    refused = GenerationSettings(max_new_tokens=4, min_new_tokens=-1)  # llama-cpp-python: "min_tokens ... >= 0"
    last = turn(tiny, MemoryState(), "Hello", settings=refused)[-1]
    assert last.reply and last.stats.server == "tinysrv, the server takes no repetition penalty"
    assert tiny.server.base_url in remote._refuses_optional
    body = request_body("tiny", [], refused, [], optional=False)
    assert not set(OPTIONAL_FIELDS) & set(body)


def test_the_same_settings_give_the_same_greedy_reply(tiny):
    first, second = (turn(tiny, MemoryState(), "Tell me a story")[-1].reply for _ in range(2))
    assert first == second


def test_leaving_the_loop_closes_the_stream_and_the_server_stops(tiny, tiny_server):
    log = tiny_server[1]
    before = log.read_text().count("Disconnected from client")
    stream = tiny.open_stream([{"role": "user", "content": "Go on"}], "", GenerationSettings(max_new_tokens=900))
    replies = iter(stream)
    next(replies)
    replies.close()  # what Gradio's Stop does to the handler's generator
    assert stream.response.is_closed and stream.stats is None
    deadline = time.monotonic() + 10
    while log.read_text().count("Disconnected from client") == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.read_text().count("Disconnected from client") == before + 1
    assert turn(tiny, MemoryState(), "Hello")[-1].reply  # the server answers the next turn


def test_memory_budgets_count_with_the_servers_tokenizer(tiny, tiny_llama):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(tiny_llama)
    count = token_counter(tiny)
    text = "The yearly membership fee is 1,200 rupees."
    assert count([{"role": "user", "content": text}]) == (
        len(hf(text, add_special_tokens=False).input_ids) + MESSAGE_OVERHEAD_TOKENS)
    assert tiny.tokenize == "/extras/tokenize"


def test_without_a_reachable_tokenizer_the_count_is_the_estimate(tiny):
    down = servers.Server("down", f"http://127.0.0.1:{free_port()}/v1")
    remote = RemoteModel(tiny.entry, down, "tiny")
    assert count_text(remote, "x" * 41) == 12 and remote.tokenize == ""


@pytest.mark.parametrize("kind, kept_in_second_prompt", [
    ("none", False), ("buffer", True), ("window", True), ("token_budget", False), ("summary", None),
    ("summary_buffer", None),
])
def test_every_memory_kind_works_with_a_remote_model(tiny, kind, kept_in_second_prompt):
    config = MemoryConfig(kind, k=1, max_tokens=16)
    first = turn(tiny, MemoryState(), "My name is Priya and I live in Pune.", config)[-1]
    second = turn(tiny, first.state, "What is my name?", config)[-1]
    assert [m["role"] for m in second.state.messages] == ["user", "assistant"] * 2
    sent = second.prompt
    if kept_in_second_prompt is not None:
        assert ("My name is Priya" in sent) == kept_in_second_prompt
    else:  # the remote model wrote the summary after each turn, and the second prompt carries the first one
        assert first.state.summary and second.state.summary != first.state.summary
        system = json.loads(sent.split("\n", 1)[1])[0]
        assert system == {"role": "system", "content": "Be brief.\n\n" + memory.summary_message(
            first.state.summary)["content"]}


def test_a_knowledge_collection_grounds_a_remote_model(tiny, club):
    last = turn(tiny, MemoryState(), "How much is the yearly fee for a junior?",
                knowledge=KnowledgeConfig("club", k=1))[-1]
    assert [p.citation for p in last.sources] == ["handbook.md § 1.1 Fees"]
    system = json.loads(last.prompt.split("\n", 1)[1])[0]
    assert system["role"] == "system" and "400 rupees for juniors" in system["content"]
    assert last.state.messages[0] == {"role": "user", "content": "How much is the yearly fee for a junior?"}


def test_the_app_chats_and_compares_with_a_remote_model_through_gradio_client(tiny):
    from gradio_client import Client

    import app

    demo = app.build_app(default_model="openai:tiny@tinysrv", compare_model="openai:tiny@tinysrv")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        job = client.submit(message="My name is Priya.", max_new_tokens=8, api_name="/chat")
        chatbot, _, prompt, _, stats, *_ = job.result(timeout=120)
        assert len(job.outputs()) >= 3 and len(chatbot) == 2 and '"content": "My name is Priya."' in prompt
        assert "engine **openai-compatible**" in stats and "openai-compatible (tinysrv) ·" in stats
        chat_a, chat_b, stats_a, stats_b, *_ = client.predict(
            message="Hello", model_a="openai:tiny@tinysrv", model_b="openai:tiny@tinysrv", max_new_tokens=8,
            api_name="/compare")
        assert len(chat_a) == len(chat_b) == 2 and "openai-compatible (tinysrv)" in stats_a and "tok/s" in stats_b
        with pytest.raises(Exception, match="does not serve 'nope'"):  # a clear message, and the app goes on
            client.predict(message="Hi", model="openai:nope@tinysrv", api_name="/chat")
        models_table = client.predict(api_name="/models")
        assert any(row[1] == "openai:tiny@tinysrv" for row in models_table["data"])
    finally:
        demo.close()


# -------------------------------------------------------------------------------------------- a real model


@pytest.mark.real_model
def test_the_bundled_model_served_remembers_a_name_over_two_turns(tmp_path, monkeypatch):
    from studio.models import gguf_files

    ref = refs.DEFAULT_MODEL
    if not catalogue.describe(ref).available:
        pytest.skip(f"{ref} is not installed")
    process, url = start_server(gguf_files.base_gguf(ref, progress=lambda m: None), "qwen", tmp_path / "log",
                                context=2048, threads=2)
    try:
        monkeypatch.setenv("CQA_OPENAI_BASE_URL", url)
        monkeypatch.setenv("CQA_SETTINGS_DIR", str(tmp_path))
        monkeypatch.delenv("CQA_OPENAI_NAME", raising=False)
        monkeypatch.delenv("CQA_OPENAI_API_KEY", raising=False)
        loaded = loader.load_model("openai:qwen@default")
        settings = GenerationSettings(max_new_tokens=32)
        first = turn(loaded, MemoryState(), "My name is Priya.", settings=settings)[-1]
        second = turn(loaded, first.state, "What is my name?", settings=settings)[-1]
        print(f"\nturn 1: {first.reply!r}\nturn 2: {second.reply!r}\n{second.stats.describe()}")
        assert "priya" in second.reply.lower(), second.reply
        assert "My name is Priya." in second.prompt  # buffer memory sent the first turn
    finally:
        stop_server(process)
