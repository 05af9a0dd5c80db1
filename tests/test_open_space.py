"""A public Space without logins: every visitor may chat, compare and ask the sample collections; the endpoints
that fill the machine (training, RLHF, uploads, indexing, evaluations, exports) and those that change what someone
made refuse an anonymous visitor, unless the owner opened them with CQA_OPEN_TO_VISITORS=1."""

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from studio import access, workspace
from tests.test_space import free_port, shared_env  # noqa: F401  (the shared-mode folders fixture)

CHANGING = ["/knowledge_add", "/knowledge_delete", "/knowledge_evaluate", "/add_dataset", "/make_conversations",
            "/start_training", "/start_rlhf", "/stop_training", "/resume_training", "/export_gguf", "/run_grid",
            "/memory_bench", "/knowledge_rebuild"]


@pytest.fixture(scope="module")
def open_space(shared_env, tiny_models):  # noqa: F811
    env = {"SPACE_ID": "someone/cqa-studio", "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(free_port())}
    settings = access.launch_settings([], env)
    assert settings.shared and not settings.auth
    demo = app.build_app(default_model="bundled:smollm2-135m-instruct", compare_model="bundled:gemma-3-270m",
                         shared=settings.shared)
    demo.queue(max_size=settings.queue_size).launch(prevent_thread_lock=True, quiet=True, **settings.launch_kwargs())
    yield Client(demo.local_url, verbose=False)
    demo.close()


def required_values(endpoint: dict) -> dict:
    """Each parameter without a default at its example value (files: none given)."""
    return {p["parameter_name"]: None if "file" in str(p["python_type"]).lower() else p["example_input"]
            for p in endpoint["parameters"] if not p["parameter_has_default"]}


def test_every_endpoint_that_changes_something_needs_a_login(open_space):
    named = open_space.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(CHANGING) <= set(named), set(CHANGING) - set(named)
    for api_name in CHANGING:
        with pytest.raises(AppError, match="needs a login on this shared app"):
            open_space.predict(**required_values(named[api_name]), api_name=api_name)


def test_an_anonymous_visitor_may_still_chat_and_search(open_space):
    chatbot, *_ = open_space.submit(message="Hello", max_new_tokens=8, api_name="/chat").result(120)
    assert chatbot[-1]["role"] == "assistant"
    assert "No collection named 'nothing'" in open_space.predict("nothing", "Hi", 3, api_name="/knowledge_search")


@pytest.mark.parametrize("username, env, allowed", [
    ("ann", {"CQA_SHARED": "1"}, True),
    (None, {"CQA_SHARED": "1"}, False),
    (None, {"CQA_SHARED": "1", workspace.OPEN_TO_VISITORS: "1"}, True),
    (None, {"CQA_SHARED": "0"}, True),   # your own machine
    (None, {"SPACE_ID": "x/y"}, False),  # a Space is shared unless told otherwise
])
def test_who_may_change_what(username, env, allowed):
    try:
        workspace.check_may_change(username, "Training", env)
        outcome = True
    except access.AccessError as e:
        assert str(e).startswith("Training needs a login")
        outcome = False
    assert outcome == allowed
    assert workspace.owner(username, "abc") == (username or "session:abc")
