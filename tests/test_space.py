"""The app as a shared server: a login in front, uploads capped, server paths refused at every boundary.

The fresh-venv start of a real Space (pip install -r requirements.txt, python app.py with SPACE_ID) is the slower
.ci/space_check.sh; these tests launch in-process with the settings a Space would get.
"""

import os
import socket
from types import SimpleNamespace

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from studio import access
from studio.jobs import queue
from studio.jobs.kinds import EvalJob, SFTJob
from studio.models import catalogue, refs
from studio.ui.training import show_dataset

SETTINGS = ["Be brief.", 12, 0.0, 0.9, 1.1, "float32"]  # system prompt, max new, temperature, top-p, penalty, precision
LOGIN = ("ann", "s3cret")
LOGGED_IN = SimpleNamespace(username=LOGIN[0], session_hash="s1")
"""A handler's request as Gradio passes it for a logged-in visitor."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory):
    """Shared mode on for this module, with its own runs and data folders; the environment is restored after."""
    root = tmp_path_factory.mktemp("shared")
    values = {"CQA_SHARED": "1", "CQA_RUNS_DIR": str(root / "runs"), "CQA_DATA_DIR": str(root / "data")}
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield root
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def server(shared_env, tiny_models):
    env = {"SPACE_ID": "someone/cqa-studio", "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(free_port()),
           "CQA_MAX_UPLOAD_MB": "0.001"}
    settings = access.launch_settings(["--auth", ":".join(LOGIN)], env)
    assert settings.shared and settings.queue_size == access.SHARED_QUEUE_SIZE
    demo = app.build_app(default_model="bundled:smollm2-135m-instruct", compare_model="bundled:gemma-3-270m",
                         shared=settings.shared)
    assert demo.delete_cache == access.DELETE_CACHE
    demo.queue(max_size=settings.queue_size).launch(prevent_thread_lock=True, quiet=True, **settings.launch_kwargs())
    yield demo.local_url
    demo.close()


def test_the_page_needs_the_login(server):
    assert httpx.get(server + "config").status_code == 401
    with httpx.Client(base_url=server) as browser:
        assert browser.post("/login", data={"username": LOGIN[0], "password": "wrong"}).status_code == 400
        assert browser.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]}).status_code == 200
        config = browser.get("/config")
        assert config.status_code == 200 and config.json()["title"] == app.TITLE


def test_uploads_over_the_cap_are_refused(server):
    with httpx.Client(base_url=server) as browser:
        browser.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]})
        small = browser.post("/gradio_api/upload", files={"files": ("small.csv", b"question,answer\nq,a\n")})
        big = browser.post("/gradio_api/upload", files={"files": ("big.csv", b"question,answer\n" + b"q,a\n" * 2000)})
    assert small.status_code == 200
    assert big.status_code == 413


@pytest.mark.parametrize("ref", ["folder:{llama}", "{llama}", "adapter:/etc"])
def test_chat_refuses_a_typed_model_folder_and_keeps_working(server, tiny_models, ref):
    client = Client(server, auth=LOGIN, verbose=False)
    ref = ref.format(llama=tiny_models["llama"])
    with pytest.raises(AppError, match="refused in shared mode"):
        client.submit("Hello", ref, "buffer", 3, 256, *SETTINGS, api_name="/chat").result(timeout=120)


def test_the_training_tab_does_not_preview_server_files(shared_env):
    table, message = show_dataset("/etc/passwd")
    assert table.empty and "refused in shared mode" in message and "root:" not in message
    table, message = show_dataset("assets/insurer_faq.csv")
    assert len(table) > 0 and "Q/A pairs" in message


@pytest.mark.parametrize("job", [SFTJob(data="/etc/passwd", max_steps=1), SFTJob(model="folder:/tmp", max_steps=1),
                                 EvalJob(tests=["/etc/hostname"])])
def test_a_job_naming_server_paths_is_refused_and_nothing_is_queued(shared_env, job):
    with pytest.raises(access.AccessError, match="refused in shared mode"):
        queue.submit(job)
    assert not any((shared_env / "runs").glob("*/config.json"))


def test_the_app_refuses_to_start_on_a_network_address_without_a_login(capsys):
    with pytest.raises(SystemExit) as stop:
        app.main(["--host", "0.0.0.0", "--no-warm-up"])
    assert stop.value.code == 2
    assert "refusing to serve on 0.0.0.0 without a login" in capsys.readouterr().err


def test_the_start_models_are_the_ones_asked_for_else_installed_ones():
    assert app.available_defaults("bundled:gemma-3-270m", "hub:x/y") == ("bundled:gemma-3-270m", "hub:x/y")
    chosen, other = app.available_defaults(None, None)
    installed = [e for e in catalogue.catalogue() if e.ref.kind == "bundled" and e.available]
    if installed:
        assert chosen in {str(e.ref) for e in installed} and other != chosen
    else:
        assert chosen == str(refs.DEFAULT_MODEL)


@pytest.mark.parametrize("fields", [{"data": "/etc/passwd"}, {"tests": ["assets/test_brief.csv", "../x.csv"]},
                                    {"models": ["bundled:gemma-3-270m", "folder:/tmp"]}])
def test_a_grid_naming_server_paths_is_refused_before_any_file_is_read(shared_env, fields):
    from studio.evaluation.grid import GridSpec, check

    with pytest.raises(access.AccessError, match="refused in shared mode"):
        check(GridSpec(**fields))


def test_the_model_picker_does_not_tell_whether_a_server_path_exists(shared_env):
    from studio.ui.chat_settings import describe_model

    for path in ["/etc", "/no/such/folder"]:
        assert "refused in shared mode" in describe_model(path)
    assert "refused" not in describe_model("bundled:gemma-3-270m")  # catalogue models are described as before


@pytest.mark.parametrize("dataset, writer, model", [("/etc/passwd", "templates", "bundled:gemma-3-270m"),
                                                    ("assets/insurer_faq.csv", "model", "folder:/tmp")])
def test_dialogue_data_is_made_only_from_registered_data_and_catalogue_models(shared_env, dataset, writer, model):
    import gradio as gr

    from studio.ui.training import make_dialogue_data

    with pytest.raises(gr.Error, match="refused in shared mode"):
        make_dialogue_data(dataset, writer, model, 3, request=LOGGED_IN)


@pytest.mark.parametrize("start, fields", [("training", {"model": "/etc", "max_steps": 1}),
                                           ("training", {"model": "/no/such/folder", "max_steps": 1}),
                                           ("memory bench", {"model": "/etc"})])
def test_job_forms_do_not_tell_whether_a_server_path_exists(shared_env, start, fields):
    import gradio as gr

    from studio.ui.results import start_memory_bench
    from studio.ui.training import start_training

    handler = start_training if start == "training" else start_memory_bench
    with pytest.raises(gr.Error) as refused:
        handler(request=LOGGED_IN, **fields)
    assert "refused in shared mode" in str(refused.value) and "not a model folder" not in str(refused.value)
    assert not any((shared_env / "runs").glob("*/config.json"))
