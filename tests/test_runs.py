"""The run folder contract (studio/jobs/runs.py) and the job runner's safety rules, without training anything."""

import json
import logging
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys

import pytest
import torch

from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import EvalJob, MemoryBenchJob, SFTJob


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty runs root that `runs.root()` answers with; no job starts unless a test lets it."""
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("CQA_RUNS_DIR", str(folder))
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    return folder


# ---------------------------------------------------------------------------------------------- run ids


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/b", "", "..", ".", "x\x00y", "run id", "~root"])
def test_a_bad_run_id_is_refused_with_a_clear_message(root, bad):
    with pytest.raises(runs.RunError, match="is not a run id"):
        runs.run_path(bad)


@pytest.mark.parametrize("good", ["20260101-120000-smollm2-lora", "a.b_c-1", "x"])
def test_a_plain_run_id_resolves_inside_the_root(root, good):
    assert runs.run_path(good) == (root / good).resolve()


def test_a_link_out_of_the_root_is_refused(root, tmp_path):
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(runs.RunError, match="outside"):
        runs.run_path("escape")


@pytest.mark.parametrize("action", [queue.stop, queue.resume])
@pytest.mark.parametrize("bad", ["/etc", "../x"])
def test_stop_and_resume_answer_a_bad_run_id_with_a_message(root, action, bad):
    assert "is not a run id" in action(bad)


def test_wait_refuses_a_bad_run_id(root):
    with pytest.raises(runs.RunError, match="is not a run id"):
        queue.wait("/etc", timeout=1)


# ---------------------------------------------------------------------------------------------- configs


@pytest.mark.parametrize("job", [SFTJob(epochs=2, qlora=True), EvalJob(model="bundled:gemma-3-270m", limit=3),
                                 MemoryBenchJob(k=3)], ids=["sft", "eval", "memory_bench"])
def test_read_config_returns_the_typed_job_by_its_kind(tmp_path, job):
    job.save(tmp_path / runs.CONFIG)
    assert json.loads((tmp_path / runs.CONFIG).read_text())["kind"] == job.KIND
    assert runs.read_config(tmp_path) == job


@pytest.mark.parametrize("job", [SFTJob(epochs=2), EvalJob(tests=["a.csv"]), MemoryBenchJob(k=3)],
                         ids=["sft", "eval", "memory_bench"])
def test_a_config_written_before_kinds_existed_is_read_as_its_kind(tmp_path, job):
    values = json.loads(job.to_json())
    del values["kind"]
    values.pop("after_run", None)  # EvalJob gained it with the kinds
    (tmp_path / runs.CONFIG).write_text(json.dumps(values))
    assert type(runs.read_config(tmp_path)) is type(job)


@pytest.mark.parametrize("values, message", [({"kind": "rm -rf"}, "unknown job kind"),
                                             ({"something": 1}, "names no job kind"),
                                             ({"kind": "eval", "tests": []}, "non-empty list of test files")])
def test_a_config_of_no_known_kind_is_refused(tmp_path, values, message):
    (tmp_path / runs.CONFIG).write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=message):
        runs.read_config(tmp_path)


def test_a_config_of_another_kind_is_refused_by_the_class(tmp_path):
    with pytest.raises(ConfigError, match="is a 'eval' job, not 'sft'"):
        SFTJob.from_dict(json.loads(EvalJob().to_json()))


# ---------------------------------------------------------------------------------------------- status


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", b"\xff\xfe\x00"])
def test_a_corrupt_status_is_reported_not_read_as_empty(root, content):
    run_dir = root / "broken"
    run_dir.mkdir()
    MemoryBenchJob().save(run_dir / runs.CONFIG)
    path = run_dir / runs.STATUS
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    status = runs.read_status(run_dir)
    assert status["state"] == "failed" and status["message"].startswith("status.json is unreadable")
    [info] = queue.list_runs()
    assert info.state == "failed" and info.message.startswith("status.json is unreadable")
    with pytest.raises(runs.RunError, match="unreadable"):
        runs.update_status(run_dir, step=3)
    assert "nothing was changed" in queue.stop("broken")
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode()), "left as it was"


def _hammer(run_dir, key, times):
    for i in range(times):
        runs.update_status(run_dir, **{key: i})


def test_concurrent_status_updates_keep_every_field(tmp_path):
    runs.write_json(tmp_path / runs.STATUS, {"state": "running"})
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_hammer, args=(tmp_path, key, 150)) for key in ("step", "stop_requested_at")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [w.exitcode for w in writers] == [0, 0]
    status = runs.read_status(tmp_path)
    assert status["state"] == "running" and status["step"] == 149 and status["stop_requested_at"] == 149


# ---------------------------------------------------------------------------------------------- checkpoint


class Planted:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_a_checkpoint_round_trips_weights_only_and_resumes_an_optimizer(tmp_path):
    layer = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 / (s + 1))
    layer(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    state = {"step": 1, "best_val": None, "seconds": 0.5}
    runs.save_checkpoint(tmp_path, {"lora": layer.state_dict(), "optimizer": optimizer.state_dict(),
                                    "scheduler": scheduler.state_dict(), "state": state})
    runs.save_checkpoint(tmp_path, {"lora": layer.state_dict(), "optimizer": optimizer.state_dict(),
                                    "scheduler": scheduler.state_dict(), "state": state})  # replaces the first
    assert [p.name for p in runs.checkpoint_file(tmp_path).parent.iterdir()] == [runs.CHECKPOINT_STATE]
    loaded = runs.load_checkpoint(tmp_path)
    assert loaded["state"] == state and torch.equal(loaded["lora"]["weight"], layer.weight)
    fresh = torch.optim.AdamW(torch.nn.Linear(4, 2).parameters(), lr=0.1)
    fresh.load_state_dict(loaded["optimizer"])
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert loaded["scheduler"]["last_epoch"] == 1


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    runs.checkpoint_file(tmp_path).parent.mkdir(parents=True)
    runs.checkpoint_file(tmp_path).write_bytes(pickle.dumps({"state": Planted()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        runs.load_checkpoint(tmp_path)


# ---------------------------------------------------------------------------------------------- life cycle


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def job_log():
    log = logging.getLogger("test-lifecycle")
    handler = ListHandler()
    log.addHandler(handler)
    yield log, handler.lines
    log.removeHandler(handler)


def _finish(end):
    end.message, end.fields = "Done.", {"step": 7}


def _stop(end):
    raise runs.StopJob("Stopped on request.")


def _bad_config(end):
    raise ConfigError("epochs must be positive, not 0")


def _bug(end):
    return {}["missing"]


@pytest.mark.parametrize("body, state, message, raised", [
    (_finish, "finished", "Done.", None),
    (_stop, "stopped", "Stopped on request.", runs.StopJob),
    (_bad_config, "failed", "epochs must be positive, not 0", ConfigError),
    (_bug, "failed", "KeyError: 'missing'", KeyError),
])
def test_every_job_ends_with_its_state_and_message(tmp_path, job_log, body, state, message, raised):
    log, lines = job_log
    seen = {}

    def job():
        with runs.job_lifecycle(tmp_path, log, "Loading...", step=0) as end:
            seen.update(runs.read_status(tmp_path))
            body(end)

    if raised:
        with pytest.raises(raised):
            job()
    else:
        job()
    assert seen["state"] == "running" and seen["pid"] > 0 and seen["message"] == "Loading..."
    status = runs.read_status(tmp_path)
    assert status["state"] == state and status["message"] == message
    assert status["ended_at"] >= status["started_at"]
    if body is _finish:
        assert status["step"] == 7
    if body is _bug:
        assert "Traceback" in lines[-1] and "_bug" in lines[-1], "the unexpected error's traceback is in the log"
    if body is _bad_config:
        assert lines == ["epochs must be positive, not 0"], "a known error is logged as its message alone"


# ---------------------------------------------------------------------------------------------- the runner


class FakeProcess:
    def __init__(self, command, **kwargs):
        self.command, self.pid = command, 999_999

    def poll(self):
        return None


def _queued_run(root, name, config: dict, status: dict | None = None):
    run_dir = root / name
    run_dir.mkdir()
    (run_dir / runs.CONFIG).write_text(json.dumps(config))
    runs.write_json(run_dir / runs.STATUS, {"state": "queued", "created_at": 1.0, **(status or {})})
    return run_dir


def test_the_runner_starts_only_the_module_of_the_config_kind(root, monkeypatch):
    started = []
    monkeypatch.setattr(queue.subprocess, "Popen", lambda command, **kw: started.append(command) or FakeProcess(command))
    monkeypatch.setattr(queue, "_children", {})
    monkeypatch.setattr(queue, "MAX_RUNNING", 5)
    _queued_run(root, "planted", json.loads(MemoryBenchJob().to_json()), {"module": "http.server"})
    _queued_run(root, "unknown", {"kind": "shell", "model": "x"})
    assert queue.pump() == ["planted"]
    assert [command[1:3] for command in started] == [["-m", "studio.evaluation.memory_bench"]]
    assert runs.read_status(root / "unknown")["state"] == "failed"
    assert "Not started" in runs.read_status(root / "unknown")["message"]
    assert set(queue.JOB_MODULES.values()) == {"studio.training.sft", "studio.training.rlhf", "studio.evaluation.evaluate", "studio.evaluation.memory_bench"}


def test_the_queue_refuses_more_than_its_cap(root, monkeypatch):
    monkeypatch.setenv("CQA_MAX_QUEUED", "2")
    queue.submit(SFTJob(eval_tests=["assets/test_brief.csv"]))  # its follow-up evaluation is not counted
    queue.submit(MemoryBenchJob())
    assert len(queue.list_runs()) == 3
    with pytest.raises(runs.RunError, match=r"queue is full: 2 jobs are waiting \(at most 2\)"):
        queue.submit(MemoryBenchJob())
    assert len(queue.list_runs()) == 3, "nothing was created for the refused job"


def test_list_runs_labels_each_kind_from_its_config(root):
    for job in (SFTJob(), SFTJob(qlora=True), EvalJob(), MemoryBenchJob()):
        queue.submit(job)
    assert sorted(r.kind for r in queue.list_runs()) == ["LoRA", "QLoRA", "evaluation", "memory benchmark"]


def test_training_never_imports_evaluation():
    code = ("import sys, studio.training.sft, studio.jobs.queue, studio.jobs.runs, studio.training.answer_loss; "
            "print([m for m in sys.modules if m == 'eval' or m.startswith('eval.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_stop_signal_ends_a_job_as_stopped_and_the_old_handler_returns(tmp_path, job_log):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(runs.StopJob):
        with runs.job_lifecycle(tmp_path, job_log[0]):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
    status = runs.read_status(tmp_path)
    assert (status["state"], status["message"]) == ("stopped", "Stopped on request.")
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("engine, ok", [("auto", True), ("llama.cpp", True), ("transformers", True), ("vllm", False),
                                        ("", False)])
def test_an_evaluation_job_names_its_engine(engine, ok):
    job = EvalJob(engine=engine)
    if ok:
        assert EvalJob.from_dict(json.loads(job.validate().to_json())).engine == engine
    else:
        with pytest.raises(ConfigError, match="engine is one of auto, llama.cpp, transformers"):
            job.validate()
