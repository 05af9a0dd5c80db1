"""Jobs run as real subprocesses: stop, resume, a killed process, the queue."""

import os
import signal
import time
from types import SimpleNamespace

import pytest

from studio.jobs import queue, runs
from studio.jobs.kinds import SFTJob


@pytest.fixture
def job(tiny_models, tmp_path):
    data = tmp_path / "faq.csv"
    data.write_text("question,answer\n" + "".join(f"Question {i}?,Answer {i}.\n" for i in range(20)))

    def make(**overrides):
        values = dict(model=f"folder:{tiny_models['llama']}", data=str(data), batch_size=2, threads=1,
                      checkpoint_every=5, learning_rate=1e-3, early_stopping_patience=0)
        values.update(overrides)
        return SFTJob.from_dict(values)

    return make


def wait_for(condition, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError("condition not met")


def status(root, run_id):
    return queue.reconcile(root / run_id)


def test_stop_keeps_the_adapter_and_resume_continues_from_the_checkpoint(job, tmp_path):
    root = tmp_path / "runs"
    run_id = queue.submit(job(epochs=50, max_steps=300), root)
    wait_for(lambda: status(root, run_id).get("step", 0) >= 3)
    assert "Stopping" in queue.stop(run_id, root)
    ended = queue.wait(run_id, root=root)
    assert ended["state"] == "stopped" and "adapter trained so far was saved" in ended["message"]
    stopped_at = ended["step"]
    assert 3 <= stopped_at < 300
    assert (root / run_id / runs.ADAPTER / "adapter_model.safetensors").exists()
    assert "Resuming" in queue.resume(run_id, root)
    ended = queue.wait(run_id, root=root)
    assert ended["state"] == "finished" and ended["step"] == 300
    steps = [m["step"] for m in runs.read_metrics(root / run_id) if "loss" in m]
    assert steps == list(range(1, 301)), "every step logged once, none redone or skipped"
    assert "resumed at step" in (root / run_id / runs.LOG).read_text()


def test_a_job_past_the_shared_time_limit_stops_as_stop_does(job, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    run_id = queue.submit(job(epochs=50, max_steps=300), root)
    wait_for(lambda: status(root, run_id).get("step", 0) >= 2)
    monkeypatch.setenv("CQA_SHARED", "1")  # after the submit: shared mode refuses a model folder
    monkeypatch.setenv("CQA_MAX_JOB_MINUTES", "0.001")
    ended = queue.wait(run_id, root=root)
    assert ended["state"] == "stopped" and ended["step"] < 300
    assert ended["message"].startswith("Stopped: it ran past the 0.001-minute limit per job on this shared app")
    assert "adapter trained so far was saved" in ended["message"]
    assert (root / run_id / runs.ADAPTER / "adapter_model.safetensors").exists()


def test_a_killed_process_shows_as_failed_with_a_reason(job, tmp_path):
    root = tmp_path / "runs"
    run_id = queue.submit(job(epochs=50, max_steps=500), root)
    wait_for(lambda: status(root, run_id).get("step", 0) >= 1)
    os.kill(status(root, run_id)["pid"], signal.SIGKILL)
    wait_for(lambda: status(root, run_id)["state"] != "running")
    final = status(root, run_id)
    assert final["state"] == "failed" and "ended without finishing" in final["message"]
    assert [r.state for r in queue.list_runs(root)] == ["failed"]


def test_queue_runs_one_job_at_a_time(job, tmp_path):
    root = tmp_path / "runs"
    first = queue.submit(job(epochs=50, max_steps=400), root)
    second = queue.submit(job(max_steps=2), root)
    assert status(root, first)["state"] == "running"
    assert status(root, second)["state"] == "queued"
    queue.stop(first, root)
    queue.wait(first, root=root)
    assert queue.wait(second, root=root)["state"] == "finished"


def test_a_queued_job_can_be_taken_off_the_queue(job, tmp_path, monkeypatch):
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)  # nothing starts
    root = tmp_path / "runs"
    run_id = queue.submit(job(max_steps=2), root)
    assert status(root, run_id)["state"] == "queued"
    assert queue.stop(run_id, root) == "Taken off the queue."
    assert status(root, run_id)["state"] == "stopped"
    assert "no checkpoint" in queue.resume(run_id, root)


def test_a_failing_job_reports_its_error_and_its_evaluation_says_why_it_did_not_run(job, tmp_path):
    root = tmp_path / "runs"
    run_id = queue.submit(job(model="folder:/no/such/model", eval_tests=["assets/test_brief.csv"]), root)
    final = queue.wait(run_id, root=root)
    assert final["state"] == "failed" and "does not exist" in final["message"]
    [evaluation] = [r for r in queue.list_runs(root) if r.after == run_id]
    final = queue.wait(evaluation.id, timeout=10, root=root)
    assert final["state"] == "failed" and final["message"].startswith(f"Not evaluated: training run {run_id} failed")


def test_an_evaluation_waits_for_its_training_and_stops_with_it(job, tmp_path, monkeypatch):
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    root = tmp_path / "runs"
    run_id = queue.submit(job(max_steps=2, eval_tests=["assets/test_brief.csv"]), root)
    [evaluation] = [r for r in queue.list_runs(root) if r.after == run_id]
    assert evaluation.model == f"adapter:{(root / run_id).resolve()}" and evaluation.state == "queued"
    monkeypatch.setattr(queue, "MAX_RUNNING", 2)  # room to start it: only the training holds it back
    monkeypatch.setattr(queue, "_launch", lambda *args: pytest.fail("nothing may start"))
    monkeypatch.setattr(queue, "_children", {4242: SimpleNamespace(poll=lambda: None)})  # a live training process
    runs.update_status(root / run_id, state="running", pid=4242)
    assert queue.pump(root) == [] and status(root, evaluation.id)["state"] == "queued"
    runs.update_status(root / run_id, state="stopped", message="Stopped on request.")
    assert queue.pump(root) == []
    final = status(root, evaluation.id)
    assert final["state"] == "stopped"
    assert final["message"] == f"Not evaluated: training run {run_id} stopped (Stopped on request.)."


@pytest.mark.parametrize("model, slug", [("bundled:smollm2-135m-instruct", "smollm2-135m-instruct"),
                                         ("adapter:runs/20261126-152923-smollm2-135m-instruct-lora/",
                                          "smollm2-135m-instruct-lora"),
                                         ("folder:/models/My Model", "my-model"), ("folder:///", "model")])
def test_run_ids_name_the_model_once(model, slug):
    assert runs.slug(model) == slug
