"""Launch settings (binding, logins, env precedence) and shared mode's checks, decided without starting anything."""

import os
from pathlib import Path

import pytest

from studio import access
from studio.access import AccessError, launch_settings
from studio.core import paths
from studio.jobs.kinds import EvalJob, MemoryBenchJob, RLHFJob, SFTJob

SPACE = {"SPACE_ID": "someone/cqa-studio", "GRADIO_SERVER_NAME": "0.0.0.0"}


# ------------------------------------------------------------------------------------------------ binding


@pytest.mark.parametrize("argv, env, refused", [
    ([], {}, None),
    (["--host", "127.0.0.1"], {}, None),
    (["--host", "localhost"], {}, None),
    (["--host", "127.0.0.2"], {}, None),
    (["--host", "::1"], {}, None),
    (["--host", "0.0.0.0"], {}, "refusing to serve on 0.0.0.0 without a login"),
    (["--host", "192.168.1.20"], {}, "refusing to serve on 192.168.1.20"),
    (["--host", "my-laptop.local"], {}, "refusing to serve on my-laptop.local"),
    ([], {"GRADIO_SERVER_NAME": "0.0.0.0"}, "refusing to serve on 0.0.0.0"),
    (["--host", "0.0.0.0", "--auth", "ann:secret"], {}, None),
    (["--host", "0.0.0.0"], {"CQA_AUTH": "ann:secret"}, None),
    (["--host", "0.0.0.0", "--no-auth-i-know"], {}, None),
    ([], SPACE, None),  # a Space: the platform's access control applies, and shared mode is on
    (["--no-shared"], SPACE, "refusing to turn shared mode off on a Space"),
    ([], {**SPACE, "CQA_SHARED": "0"}, "refusing to turn shared mode off on a Space"),
    (["--no-shared", "--no-auth-i-know"], SPACE, None),
    (["--no-shared"], {**SPACE, "CQA_AUTH": "ann:secret"}, None),
])
def test_a_network_address_needs_a_login_or_an_explicit_flag(argv, env, refused):
    if refused:
        with pytest.raises(AccessError, match=refused):
            launch_settings(argv, env)
    else:
        launch_settings(argv, env)


@pytest.mark.parametrize("argv, env, host, port", [
    ([], {}, "127.0.0.1", 7860),
    ([], {"GRADIO_SERVER_NAME": "localhost", "GRADIO_SERVER_PORT": "7000"}, "localhost", 7000),
    ([], {"PORT": "8080"}, "127.0.0.1", 8080),
    ([], {"GRADIO_SERVER_PORT": "7000", "PORT": "8080"}, "127.0.0.1", 7000),
    (["--host", "localhost", "--port", "9000"], {"GRADIO_SERVER_NAME": "127.0.0.5", "GRADIO_SERVER_PORT": "7000",
                                                 "PORT": "8080"}, "localhost", 9000),
    ([], {"GRADIO_SERVER_NAME": " ", "GRADIO_SERVER_PORT": ""}, "127.0.0.1", 7860),
])
def test_flags_win_over_environment_which_wins_over_defaults(argv, env, host, port):
    settings = launch_settings(argv, env)
    assert (settings.host, settings.port) == (host, port)
    assert settings.launch_kwargs()["server_name"] == host and settings.launch_kwargs()["server_port"] == port


def test_logins_from_flags_win_over_environment(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("# team\nann:pa:ss\n\n  bob : x \r\n")
    env = {"CQA_AUTH": "env:one", "CQA_AUTH_FILE": str(logins)}
    assert launch_settings(["--auth", "a:1", "--auth", "b:2"], env).auth == [("a", "1"), ("b", "2")]
    assert launch_settings([], env).auth == [("env", "one"), ("ann", "pa:ss"), ("bob", "x")]
    assert launch_settings(["--auth-file", str(logins)], {}).auth == [("ann", "pa:ss"), ("bob", "x")]
    assert launch_settings([], {}).auth == [] and launch_settings([], {}).launch_kwargs()["auth"] is None


@pytest.mark.parametrize("argv, env, message", [
    (["--auth", "ann"], {}, "--auth: a login is user:password"),
    (["--auth", ":secret"], {}, "--auth: a login is user:password"),
    (["--auth", "ann:"], {}, "--auth: a login is user:password"),
    ([], {"CQA_AUTH": "no-colon"}, "CQA_AUTH: a login is user:password"),
    ([], {"CQA_AUTH_FILE": "/no/such/file"}, "CQA_AUTH_FILE: cannot read /no/such/file"),
    (["--port", "http"], {}, "--port must be a port number, not 'http'"),
    ([], {"GRADIO_SERVER_PORT": "70000"}, "GRADIO_SERVER_PORT must be a port between 1 and 65535"),
    ([], {"PORT": "-1"}, "PORT must be a port between"),
    ([], {"CQA_SHARED": "maybe"}, "CQA_SHARED must be one of"),
    ([], {"CQA_ALLOW_DOWNLOADS": "please"}, "CQA_ALLOW_DOWNLOADS must be one of"),
    (["--shared"], {"CQA_MAX_UPLOAD_MB": "-5"}, "CQA_MAX_UPLOAD_MB must be a positive number, not '-5'"),
    (["--shared"], {"CQA_QUEUE_SIZE": "lots"}, "CQA_QUEUE_SIZE must be a positive number"),
    (["--shared"], {"CQA_QUEUE_SIZE": "inf"}, "CQA_QUEUE_SIZE must be a positive number"),
])
def test_bad_settings_are_refused_with_a_message_that_names_them(argv, env, message):
    with pytest.raises(AccessError, match=message.replace("(", r"\(")):
        launch_settings(argv, env)


def test_a_refused_login_does_not_echo_the_password(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("ann:ok\nbob-hunter2\n")
    with pytest.raises(AccessError) as refused:
        launch_settings([], {"CQA_AUTH_FILE": str(logins)})
    assert "line 2" in str(refused.value) and "hunter2" not in str(refused.value)
    with pytest.raises(AccessError) as empty:
        logins.write_text("# nobody yet\n")
        launch_settings([], {"CQA_AUTH_FILE": str(logins)})
    assert "holds no user:password line" in str(empty.value)


# -------------------------------------------------------------------------------------- shared mode decisions


@pytest.mark.parametrize("argv, env, shared", [
    ([], {}, False),
    (["--host", "localhost"], {}, False),
    (["--host", "0.0.0.0", "--no-auth-i-know"], {}, True),
    (["--host", "0.0.0.0", "--auth", "a:b", "--no-shared"], {}, False),
    (["--host", "0.0.0.0", "--auth", "a:b"], {"CQA_SHARED": "no"}, False),
    (["--host", "0.0.0.0", "--auth", "a:b", "--shared"], {"CQA_SHARED": "0"}, True),
    ([], {"CQA_SHARED": "1"}, True),
    (["--no-shared"], {"CQA_SHARED": "yes"}, False),
    ([], SPACE, True),
    ([], {"SPACE_ID": "someone/cqa-studio"}, True),
])
def test_shared_mode_is_on_off_loopback_and_on_a_space_unless_overridden(argv, env, shared):
    assert launch_settings(argv, env).shared is shared


def test_shared_mode_caps_uploads_and_the_queue_and_the_environment_can_change_the_caps():
    local, shared = launch_settings([], {}), launch_settings([], SPACE)
    assert (local.max_file_size, local.queue_size) == (None, None)
    assert shared.max_file_size == access.SHARED_MAX_UPLOAD_MB * 1024 * 1024
    assert shared.queue_size == access.SHARED_QUEUE_SIZE
    tuned = launch_settings([], {**SPACE, "CQA_MAX_UPLOAD_MB": "0.5", "CQA_QUEUE_SIZE": "3"})
    assert (tuned.max_file_size, tuned.queue_size) == (512 * 1024, 3)
    assert launch_settings([], {"CQA_MAX_UPLOAD_MB": "1"}).max_file_size == 1024 * 1024  # locally, when asked


@pytest.mark.parametrize("argv, env, offline, allowed", [
    ([], {}, "1", False),
    ([], {"HF_HUB_OFFLINE": "0"}, "0", False),  # the user's own setting is kept
    (["--allow-downloads"], {}, "0", True),
    (["--allow-downloads"], {"HF_HUB_OFFLINE": "1"}, "0", True),  # the request beats an inherited variable
    ([], {"CQA_ALLOW_DOWNLOADS": "1", "HF_HUB_OFFLINE": "1"}, "0", True),
    ([], {"CQA_ALLOW_DOWNLOADS": "0"}, "1", False),
])
def test_hub_stays_offline_unless_downloads_are_asked_for(argv, env, offline, allowed):
    access.prepare_environment(argv, env)
    assert env["HF_HUB_OFFLINE"] == offline and env["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert launch_settings(argv, env).allow_downloads is allowed


def test_an_abbreviated_download_flag_is_rejected_not_half_understood():
    env = {}
    access.prepare_environment(["--allow-down"], env)
    assert env["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(SystemExit):
        launch_settings(["--allow-down"], env)


def test_record_mode_tells_job_subprocesses_and_lowers_the_job_queue_in_shared_mode():
    env = {}
    access.record_mode(launch_settings([], SPACE), env)
    assert env == {"CQA_SHARED": "1", "CQA_MAX_QUEUED": str(access.SHARED_MAX_QUEUED_JOBS)}
    assert access.shared_mode(env) is True
    env = {"CQA_MAX_QUEUED": "30"}
    access.record_mode(launch_settings([], SPACE), env)
    assert env["CQA_MAX_QUEUED"] == "30"
    env = {"SPACE_ID": "x/y"}
    access.record_mode(launch_settings(["--no-shared", "--no-auth-i-know"], env), env)
    assert env["CQA_SHARED"] == "0" and access.shared_mode(env) is False and "CQA_MAX_QUEUED" not in env


# --------------------------------------------------------------------------------------------- path checks


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """A data folder with one registered dataset and a runs folder with one adapter; shared mode on."""
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    (data_dir).mkdir()
    (data_dir / "faq.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    (data_dir / "leak.csv").symlink_to("/etc/passwd")
    (runs_dir / "run-1" / "adapter").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("CQA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CQA_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("CQA_SHARED", "1")
    return tmp_path


def _outcome(check, value) -> str:
    try:
        check(value)
        return "ok"
    except AccessError as e:
        assert "refused in shared mode" in str(e)
        return "refused"


@pytest.mark.parametrize("path, expected", [
    ("/etc/passwd", "refused"),
    ("../x", "refused"),
    ("../../etc/passwd", "refused"),
    ("README.md", "refused"),  # a file next to the app, named without a folder
    ("assets/insurer_faq.csv", "ok"),
    (str(paths.ASSETS / "test_brief.csv"), "ok"),
    ("assets/../app.py", "refused"),
    ("assets", "refused"),
    ("{tmp}/data/faq.jsonl", "ok"),
    ("{tmp}/data/../elsewhere/x.csv", "refused"),
    ("{tmp}/data/leak.csv", "refused"),  # a link out of the data folder
    ("{tmp}/elsewhere/x.csv", "refused"),
    ("faq", "ok"),  # a registered dataset's name
    ("", "ok"),  # nothing named: the config check says so
    ("/etc/passwd\x00.csv", "refused"),
])
def test_shared_mode_allows_only_registered_data_and_shipped_assets(folders, path, expected):
    path = path.replace("{tmp}", str(folders))
    assert _outcome(access.check_data_path, path) == expected


@pytest.mark.parametrize("ref, expected", [
    ("bundled:smollm2-135m-instruct", "ok"),
    ("smollm2-135m-instruct", "ok"),
    ("hub:EleutherAI/pythia-70m", "ok"),
    ("EleutherAI/pythia-70m", "ok"),
    ("hub:someone/not-in-the-catalogue", "refused"),
    ("hub:../../etc", "refused"),
    ("folder:/etc", "refused"),
    ("/etc", "refused"),
    ("folder:{tmp}/elsewhere", "refused"),
    ("{tmp}/elsewhere", "refused"),
    ("adapter:{tmp}/runs/run-1", "ok"),
    ("adapter:{tmp}/runs/run-1/adapter", "ok"),
    ("adapter:{tmp}/runs/../elsewhere", "refused"),
    ("adapter:{tmp}/runs", "refused"),
    ("adapter:/etc", "refused"),
    ("adapter:runs/run-1", "ok"),  # the picker's form: the run in this workspace's runs folder
    ("adapter:runs/run-1/adapter", "ok"),
    ("adapter:runs/../elsewhere", "refused"),
    ("adapter:runs/", "refused"),
    ("adapter:runs/../../etc", "refused"),
    ("gibberish", "ok"),  # not a reference at all: the loader explains
])
def test_shared_mode_allows_only_catalogue_models_and_adapters_under_the_runs_folder(folders, ref, expected):
    assert _outcome(access.check_model_ref, ref.replace("{tmp}", str(folders))) == expected


@pytest.mark.parametrize("job, expected", [
    (SFTJob(), "ok"),
    (SFTJob(data="faq", eval_tests=["assets/test_brief.csv"]), "ok"),
    (SFTJob(data="/etc/passwd"), "refused"),
    (SFTJob(model="folder:/etc"), "refused"),
    (SFTJob(eval_tests=["assets/test_brief.csv", "/etc/shadow"]), "refused"),
    (EvalJob(), "ok"),
    (EvalJob(tests=["../secret.csv"]), "refused"),
    (EvalJob(model="adapter:{tmp}/runs/run-1"), "ok"),
    (EvalJob(model="adapter:/tmp"), "refused"),
    (MemoryBenchJob(), "ok"),
    (MemoryBenchJob(model="/home"), "refused"),
    (RLHFJob(adapter="{tmp}/runs/run-1"), "ok"),
    (RLHFJob(adapter="/etc"), "refused"),
    (RLHFJob(adapter="runs/run-1"), "ok"),
    (RLHFJob(adapter="runs/../elsewhere"), "refused"),  # the RLHF job's starting run must lie in the runs folder too
])
def test_job_configs_are_checked_field_by_field(folders, job, expected):
    if isinstance(job.model, str):
        job.model = job.model.replace("{tmp}", str(folders))
    if getattr(job, "adapter", None):
        job.adapter = job.adapter.replace("{tmp}", str(folders))
    assert _outcome(access.check_job, job) == expected


def test_outside_shared_mode_every_path_is_allowed(folders, monkeypatch):
    monkeypatch.setenv("CQA_SHARED", "0")
    access.check_data_path("/etc/passwd")
    access.check_model_ref("folder:/etc")
    access.check_job(SFTJob(data="/etc/passwd", model="/etc"))
    monkeypatch.delenv("CQA_SHARED")
    monkeypatch.setenv("SPACE_ID", "x/y")
    with pytest.raises(AccessError):
        access.check_data_path("/etc/passwd")


def test_the_real_environment_is_left_alone():
    before = dict(os.environ)
    launch_settings(["--host", "0.0.0.0", "--auth", "a:b"], dict(SPACE))
    assert dict(os.environ) == before


# ------------------------------------------------------------------------------------------ persistent storage


@pytest.mark.parametrize("env, space_data, storage", [
    ({}, "writable", None),
    ({"SPACE_ID": "x/y"}, "writable", "{data}/cqa-studio"),
    ({"SPACE_ID": "x/y"}, "missing", None),  # a Space without persistent storage: local folders, lost on restart
    ({"SPACE_ID": "x/y"}, "read-only", None),
    ({"SPACE_ID": "x/y", "CQA_STORAGE": "{tmp}/mine"}, "writable", "{tmp}/mine"),
    ({"CQA_STORAGE": "{tmp}/mine"}, "missing", "{tmp}/mine"),
])
def test_runs_and_data_go_to_persistent_storage_when_there_is_some(tmp_path, monkeypatch, env, space_data, storage):
    from studio.core import paths

    data = tmp_path / "space-data"
    if space_data != "missing":
        data.mkdir()
    monkeypatch.setattr(paths, "SPACE_DATA", data)
    monkeypatch.setattr(paths.os, "access", lambda path, mode: space_data == "writable")
    for name in ("SPACE_ID", "CQA_STORAGE", "CQA_RUNS_DIR", "CQA_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value.replace("{tmp}", str(tmp_path)))
    expected = storage and Path(storage.replace("{data}", str(data)).replace("{tmp}", str(tmp_path)))
    assert paths.storage_root() == expected
    assert paths.runs_dir() == (expected / "runs" if expected else Path("runs"))
    assert paths.data_dir() == (expected / "data" if expected else Path("data"))
    monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path / "own-runs"))
    assert paths.runs_dir() == tmp_path / "own-runs"  # a folder's own variable still wins
