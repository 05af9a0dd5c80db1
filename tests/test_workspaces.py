"""A workspace per visitor: on a shared app each login's datasets, collections and runs live in folders of their own,
every handler runs in its visitor's, the sample collections are shared read-only, and the job queue still runs one
job at a time across all of them. The two-user test logs in as alice and bob and has bob call every function the
app registered, by index, hidden ones included, with alice's names."""

import hashlib
import json
import time
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client

import app
from studio import access
from studio.core import paths
from studio.jobs import queue, runs
from studio.jobs.kinds import EvalJob
from studio.knowledge import store
from tests.test_collection_damage import Words
from tests.test_space import free_port

SECRET = "ALICE-SECRET-7731"
DATA = Path(__file__).parent / "data" / "knowledge"


@pytest.fixture
def folders(tmp_path, monkeypatch):
    for variable, name in (("CQA_RUNS_DIR", "runs"), ("CQA_DATA_DIR", "data"), ("CQA_KNOWLEDGE_DIR", "knowledge")):
        monkeypatch.setenv(variable, str(tmp_path / name))
    monkeypatch.delenv("CQA_WORKSPACE", raising=False)
    monkeypatch.setattr("studio.knowledge.embeddings.embedder", Words)
    store._cache.clear()
    yield tmp_path
    store._cache.clear()


def test_each_workspace_has_folders_of_its_own(folders, monkeypatch):
    assert paths.workspace_name("ann") != paths.workspace_name("Ann") != paths.workspace_name("a/n/n")
    assert paths.workspace_name("../..").startswith("visitor-") or "/" not in paths.workspace_name("../..")
    ann = paths.workspace_name("ann")
    with paths.workspace(ann):
        assert paths.runs_dir() == folders / "runs" / paths.WORKSPACES / ann
        assert paths.knowledge_dir() == folders / "knowledge" / paths.WORKSPACES / ann
        assert paths.shared_knowledge_dir() == folders / "knowledge"
        paths.runs_dir().mkdir(parents=True)
    assert paths.runs_dir() == folders / "runs"
    assert paths.run_roots() == [folders / "runs", folders / "runs" / paths.WORKSPACES / ann]
    monkeypatch.setenv("CQA_WORKSPACE", ann)  # a job of that workspace
    assert paths.data_dir() == folders / "data" / paths.WORKSPACES / ann
    with paths.workspace(""):
        assert paths.data_dir() == folders / "data"


def test_samples_are_shared_read_only_and_collections_private(folders):
    with paths.workspace(""):
        store.create("sample-faq", [DATA / "club_faq.csv"])  # as sample_collection builds it, for everyone
    alice, bob = paths.workspace_name("alice"), paths.workspace_name("bob")
    with paths.workspace(alice):
        store.create("notes", [DATA / "notes.txt"])
        assert store.names() == ["notes", "sample-faq"]
        assert store.retrieve("sample-faq", "membership fee", k=1)
        with pytest.raises(store.KnowledgeError, match="sample collection every visitor reads"):
            store.add_files("sample-faq", [DATA / "notes.txt"])
        with pytest.raises(store.KnowledgeError, match="sample collection every visitor reads"):
            store.delete("sample-faq")
    with paths.workspace(bob):
        assert store.names() == ["sample-faq"]
        with pytest.raises(store.KnowledgeError, match="No collection named 'notes'"):
            store.retrieve("notes", "anything")
        store.create("notes", [DATA / "handbook.md"])  # the same name, no collision
        assert [p.file for p in store.passages("notes")][:1] == ["handbook.md"]
    with paths.workspace(alice):
        assert {p.file for p in store.passages("notes")} == {"notes.txt"}


def queued(root: Path, run_id: str, owner: str, state="queued") -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    EvalJob(tests=["assets/test_brief.csv"]).save(run_dir / runs.CONFIG)
    runs.write_json(run_dir / runs.STATUS, {"state": state, "message": "", "created_at": time.time(),
                                            "owner": owner, "pid": 999999999})
    return run_dir


def test_the_queue_runs_one_job_at_a_time_across_workspaces(folders, monkeypatch):
    started = []
    monkeypatch.setattr(queue, "_launch", lambda run_dir, resume, kind: started.append(run_dir.name))
    monkeypatch.setattr(queue, "reconcile", lambda run_dir: runs.read_status(run_dir))
    alice = folders / "runs" / paths.WORKSPACES / paths.workspace_name("alice")
    bob = folders / "runs" / paths.WORKSPACES / paths.workspace_name("bob")
    queued(alice, "a-running", "alice", state="running")
    queued(bob, "b-waiting", "bob")
    assert queue.pump(bob) == [] and started == []  # alice's job holds the one slot
    runs.write_json(alice / "a-running" / runs.STATUS, {"state": "finished", "created_at": 0})
    assert queue.pump(bob) == ["b-waiting"]
    assert runs.job_environment(bob / "b-waiting") == {"CQA_RUNS_DIR": str(folders / "runs"),
                                                    "CQA_WORKSPACE": bob.name}
    assert runs.job_environment(folders / "runs" / "plain") == {"CQA_RUNS_DIR": str(folders / "runs"),
                                                             "CQA_WORKSPACE": ""}


# ------------------------------------------------------------------------------------- alice and bob, live


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def two_users(folders, monkeypatch):
    """The app shared with logins alice and bob. Alice, through the app as any visitor would, adds a dataset and a
    collection holding SECRET and queues a training run on it (nothing starts: the test is about who sees what)."""
    from gradio_client import handle_file

    monkeypatch.setenv("CQA_SHARED", "1")
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    env = {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(free_port())}
    settings = access.launch_settings(["--auth", "alice:pa", "--auth", "bob:pb", "--shared"], env)
    demo = app.build_app(default_model="bundled:smollm2-135m-instruct", compare_model="bundled:gemma-3-270m",
                         shared=True)
    demo.queue().launch(prevent_thread_lock=True, quiet=True, **settings.launch_kwargs())
    source = folders / "alice.csv"
    source.write_text(f"question,answer\nWhat is the code?,The code is {SECRET}.\n"
                      + "".join(f"Question {n}?,Answer {n}.\n" for n in range(12)))
    alice = Client(demo.local_url, auth=("alice", "pa"), verbose=False)
    picker, _, added = alice.predict(handle_file(str(source)), "", "", api_name="/add_dataset")
    dataset = picker["value"]
    assert added.startswith("✅ Added")
    message, *_ = alice.predict("alice-notes", [], [handle_file(str(source))], api_name="/knowledge_add")
    assert message.startswith("✅ Added")
    run_id = alice.predict(data=dataset, api_name="/start_training")
    names = {"collection": "alice-notes", "dataset": Path(dataset).stem, "run": run_id, "path": dataset}
    yield demo, names, folders
    demo.close()


def arguments(block_fn, text: str) -> list:
    """A value for each input the handler takes, every text one `text`."""
    values = []
    for component in block_fn.inputs:
        if isinstance(component, (gr.State, gr.BrowserState)):
            continue
        if isinstance(component, (gr.File, gr.UploadButton, gr.DownloadButton, gr.Image)):
            values.append(None)
        elif isinstance(component, (gr.Number, gr.Slider)):
            values.append(component.minimum if getattr(component, "minimum", None) is not None else 1)
        elif isinstance(component, gr.Checkbox):
            values.append(False)
        elif isinstance(component, gr.Dropdown) and component.multiselect:
            values.append([text])
        elif isinstance(component, (gr.CheckboxGroup, gr.Chatbot, gr.Dataframe)):
            values.append([])
        else:
            values.append(text)
    return values


def test_bob_reaches_nothing_of_alices_through_any_function(two_users):
    demo, names, root = two_users
    before = tree(root)
    bob = Client(demo.local_url, auth=("bob", "pb"), verbose=False)
    called = 0
    for index, block_fn in demo.fns.items():
        if block_fn.fn is None:
            continue
        for text in names.values():
            try:
                result = bob.submit(*arguments(block_fn, text), fn_index=index).result(60)
            except Exception as e:  # noqa: BLE001 - a refusal: its message must not tell either
                result = str(e)
            called += 1
            shown = json.dumps(result, default=str)
            assert SECRET not in shown, (block_fn.name, text)
            assert text == names["path"] or paths.workspace_name("alice") not in shown, (block_fn.name, text)
            assert text == names["run"] or names["run"] not in shown, (block_fn.name, text)
    assert called > 60
    assert tree(root) == before  # nothing of alice's changed, stopped or deleted; bob made nothing either


def test_alice_sees_her_own_through_the_same_functions(two_users):
    demo, names, _ = two_users
    alice = Client(demo.local_url, auth=("alice", "pa"), verbose=False)
    assert SECRET in alice.predict("alice-notes", "What is the code?", 1, api_name="/knowledge_search")
    assert alice.predict(names["run"], api_name="/run_status")["state"] == "queued"
    bob = Client(demo.local_url, auth=("bob", "pb"), verbose=False)
    assert "No collection named 'alice-notes'" in bob.predict("alice-notes", "code", 1, api_name="/knowledge_search")
    with pytest.raises(Exception, match="No run named"):
        bob.predict(names["run"], api_name="/run_status")
    assert bob.predict(names["run"], api_name="/stop_training") != "Taken off the queue."
    assert alice.predict(names["run"], api_name="/run_status")["state"] == "queued"


def test_work_handed_to_another_thread_keeps_the_workspace(folders):
    from studio.core import runtime

    with paths.workspace(paths.workspace_name("ann")):
        assert runtime.on_model_thread(paths.current_workspace) == paths.workspace_name("ann")
    assert runtime.on_model_thread(paths.current_workspace) == ""


def test_an_anonymous_visitors_scratch_space_goes_when_they_leave_a_logins_stays(folders, monkeypatch):
    from types import SimpleNamespace

    from studio.ui import visitor

    monkeypatch.setenv("CQA_SHARED", "1")
    left = {}
    for request in (SimpleNamespace(username=None, session_hash="s1"), SimpleNamespace(username="ann",
                                                                                       session_hash="s2")):
        with paths.workspace(visitor.workspace_of(request)):
            store.create("mine", [DATA / "notes.txt"])
            left[request.session_hash] = paths.knowledge_dir()
        visitor.forget_session(request)
    assert not left["s1"].exists() and (left["s2"] / "mine").is_dir()


def test_a_shared_page_starts_with_no_ones_lists_but_the_samples(folders):
    """The page is built before any visitor: its lists must not show what the app's owner made in the plain
    folders (a reload then fills each visitor's own)."""
    store.create("owners-own", [DATA / "notes.txt"])
    with paths.workspace(""):
        store.create("sample-faq", [DATA / "club_faq.csv"])
    choices = lambda demo: {value for block in demo.blocks.values() if isinstance(block, gr.Dropdown)  # noqa: E731
                            for _, value in block.choices}
    assert "owners-own" in choices(app.build_app(shared=False))
    shared = choices(app.build_app(shared=True))
    assert "owners-own" not in shared and "sample-faq" in shared
    assert not [value for value in shared if str(value).startswith("/")]  # no server path offered on the page
