import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from studio.data import dialogue, qa
from studio.data.dialogue import make_conversations

ASSETS = Path(__file__).resolve().parent.parent / "assets"

RECORDS = [
    {"question": f"{topic} question {i}?", "answer": f"{topic} answer {i}.", "topic": topic}
    for topic, count in (("claims", 7), ("maternity", 3), ("tax", 1))
    for i in range(count)
]


def pairs_in(conversation: dict) -> list[tuple[str, str]]:
    """(question as the user asked it, answer) for each Q/A exchange between the greeting and the goodbye."""
    turns = conversation["turns"][2:-2]
    return [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns), 2)]


def test_offline_conversations_keep_every_pair_verbatim_grouped_by_topic():
    made = make_conversations(RECORDS, pairs_per_conversation=3, seed=0)
    # 7 claims pairs -> 3 + 2 + 2, maternity 3, tax 1
    assert sorted(len(pairs_in(c)) for c in made) == [1, 2, 2, 3, 3]
    answers = [a for c in made for _, a in pairs_in(c)]
    assert sorted(answers) == sorted(r["answer"] for r in RECORDS)
    for conversation in made:
        roles = [t["role"] for t in conversation["turns"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2)
        assert conversation["turns"][0]["content"] in dialogue.USER_GREETINGS
        assert conversation["turns"][-1]["content"] in dialogue.AGENT_CLOSINGS
        pairs = pairs_in(conversation)
        assert len({a.split()[0] for _, a in pairs}) == 1  # one topic per conversation
        for asked, answer in pairs:
            question = answer.replace("answer", "question").rstrip(".") + "?"
            assert asked.endswith(question)  # possibly after a lead-in such as "One more thing: "
            assert asked[: -len(question)] in dialogue.LEAD_INS


def test_offline_conversations_are_seeded():
    assert make_conversations(RECORDS, seed=1) == make_conversations(RECORDS, seed=1)
    assert make_conversations(RECORDS, seed=1) != make_conversations(RECORDS, seed=2)


def test_without_topics_all_pairs_are_grouped_together():
    records = [{"question": f"q{i}?", "answer": f"a{i}."} for i in range(6)]
    made = make_conversations(records, pairs_per_conversation=2)
    assert [len(pairs_in(c)) for c in made] == [2, 2, 2]


@pytest.mark.parametrize("records, size, message", [
    ([{"question": "q?", "answer": ""}], 3, "record 0 needs a non-empty 'question' and 'answer'"),
    ([{"question": "q?", "answer": "a."}], 0, "at least 1"),
])
def test_make_conversations_refuses_bad_input(records, size, message):
    with pytest.raises(ValueError, match=message):
        make_conversations(records, size)


def test_saved_conversations_load_back_as_conversations(tmp_path):
    faq = qa.load_file(ASSETS / "insurer_faq.csv").records
    made = make_conversations(faq, pairs_per_conversation=3)
    path = dialogue.save_conversations(made, tmp_path / "out" / "faq_chats.jsonl")
    loaded = qa.load_file(path)
    assert (loaded.kind, loaded.records) == ("conversations", made)
    answers = {t["content"] for c in made for t in c["turns"] if t["role"] == "assistant"}
    assert {r["answer"] for r in faq} <= answers
    assert len(qa.dialogue_examples(loaded.records)) == len(faq) + 2 * len(made)


@pytest.mark.parametrize("reply", ["", "   ", "x" * 301, "...", None])
def test_unusable_model_lines_fall_back_to_the_templates(reply):
    asked = []

    def complete(messages):
        asked.append(messages)
        return reply

    assert make_conversations(RECORDS, seed=5, complete=complete) == make_conversations(RECORDS, seed=5)
    assert asked  # the model was asked for every slot: 4 per conversation + 1 per later question
    assert len(asked) == 5 * 4 + (len(RECORDS) - 5)


def test_model_writes_only_the_small_talk():
    lines = {  # instruction keyword -> what the "model" answers, quotes, speaker names and chatter included
        "first message": '"Hello, I have questions."',
        "reply to this greeting": "Agent: Sure, go ahead.",
        "before it": "One more thing",
        "last message": "Customer: Thanks a lot!\nExtra chatter the model added.",
        "goodbye": "Bye now.",
    }
    prompts = []

    def complete(messages):
        prompts.append(messages[-1]["content"])
        return next(line for keyword, line in lines.items() if keyword in prompts[-1])

    made = make_conversations(RECORDS[:3], complete=complete)
    offline = make_conversations(RECORDS[:3])
    (q1, a1), (q2, a2), (q3, a3) = [(r["question"], r["answer"]) for r in sorted(
        RECORDS[:3], key=lambda r: [a for _, a in pairs_in(offline[0])].index(r["answer"]))]
    assert made == [{"turns": [
        {"role": "user", "content": "Hello, I have questions."},
        {"role": "assistant", "content": "Sure, go ahead."},
        {"role": "user", "content": q1},
        {"role": "assistant", "content": a1},
        {"role": "user", "content": f"One more thing: {q2}"},
        {"role": "assistant", "content": a2},
        {"role": "user", "content": f"One more thing: {q3}"},
        {"role": "assistant", "content": a3},
        {"role": "user", "content": "Thanks a lot!"},
        {"role": "assistant", "content": "Bye now."},
    ]}]
    assert "some questions about claims" in prompts[0]
    assert '"Hello, I have questions."' in prompts[1] and '"Thanks a lot!"' in prompts[-1]
    assert not [p for p in prompts for r in RECORDS if r["answer"] in p]  # never asked to rewrite an answer


# ---------------------------------------------------------------- the OpenAI-compatible client


class StubHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(("GET", self.path, dict(self.headers), None))
        self.reply(200, {"object": "list", "data": [{"id": "stub-model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(("POST", self.path, dict(self.headers), body))
        if body["messages"][-1]["content"] == "fail":
            self.reply(500, {"error": "model crashed"})
        else:
            self.reply(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there!"}}]})

    def reply(self, status, payload):
        encoded = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_endpoint_env(monkeypatch):
    for name in ("CQA_OPENAI_BASE_URL", "CQA_OPENAI_API_KEY", "CQA_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_endpoint_configured(no_endpoint_env):
    assert dialogue.openai_complete_from_env() is None


def test_client_posts_the_standard_chat_format(stub_server, no_endpoint_env):
    base = f"http://127.0.0.1:{stub_server.server_port}/v1"
    no_endpoint_env.setenv("CQA_OPENAI_BASE_URL", base + "/")
    no_endpoint_env.setenv("CQA_OPENAI_API_KEY", "secret")
    no_endpoint_env.setenv("CQA_OPENAI_MODEL", "my-model")
    complete = dialogue.openai_complete_from_env()
    messages = [{"role": "user", "content": "Say hi"}]
    assert complete(messages) == "Hi there!"
    [(method, path, headers, body)] = stub_server.requests
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert headers["Authorization"] == "Bearer secret"
    assert body["model"] == "my-model" and body["messages"] == messages


def test_client_asks_the_server_for_its_model_when_none_is_set(stub_server, no_endpoint_env):
    no_endpoint_env.setenv("CQA_OPENAI_BASE_URL", f"http://127.0.0.1:{stub_server.server_port}/v1")
    complete = dialogue.openai_complete_from_env()
    complete([{"role": "user", "content": "a"}])
    complete([{"role": "user", "content": "b"}])
    assert [(m, p) for m, p, _, _ in stub_server.requests] == [
        ("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("POST", "/v1/chat/completions")]
    assert "Authorization" not in stub_server.requests[1][2]
    assert stub_server.requests[1][3]["model"] == "stub-model"


def test_client_errors_name_the_url(stub_server):
    base = f"http://127.0.0.1:{stub_server.server_port}/v1"
    with pytest.raises(RuntimeError, match=rf"{base}/chat/completions answered HTTP 500: .*model crashed"):
        dialogue.OpenAIChat(base, model="m")([{"role": "user", "content": "fail"}])
    stub_server.shutdown()
    stub_server.server_close()
    with pytest.raises(RuntimeError, match=rf"could not reach {base}/chat/completions"):
        dialogue.OpenAIChat(base, model="m")([{"role": "user", "content": "hello"}])


def test_conversations_written_through_the_stub(stub_server, no_endpoint_env):
    no_endpoint_env.setenv("CQA_OPENAI_BASE_URL", f"http://127.0.0.1:{stub_server.server_port}/v1")
    made = make_conversations(RECORDS[:2], complete=dialogue.openai_complete_from_env())
    assert made[0]["turns"][0] == {"role": "user", "content": "Hi there!"}
    assert made[0]["turns"][4]["content"].startswith("Hi there! ")  # the model's lead-in before the question


# ---------------------------------------------------------------- command line


def test_cli_writes_conversations(tmp_path, capsys, no_endpoint_env):
    out = tmp_path / "chats.jsonl"
    assert dialogue.main([str(ASSETS / "test_brief.csv"), "--out", str(out), "--pairs", "2"]) == 0
    written = qa.load_file(out)
    assert written.kind == "conversations"
    assert f"wrote {len(written.records)} conversations from 36 Q/A pairs" in capsys.readouterr().out


def test_cli_reports_a_bad_file(tmp_path, capsys, no_endpoint_env):
    bad = Path(__file__).parent / "data" / "bad" / "empty_answer.csv"
    assert dialogue.main([str(bad), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "row 3: empty answer" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
