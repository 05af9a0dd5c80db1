"""Budgets of a shared app (studio/jobs/budgets.py): cost per job, time per job, jobs per visitor; RAM everywhere."""

import json
import struct
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from studio.evaluation import grid
from studio.jobs import budgets, queue, runs
from studio.jobs.kinds import EvalJob, MemoryBenchJob, RLHFJob, SFTJob
from studio.models import weights

BRIEF, DETAILED = "assets/test_brief.csv", "assets/test_detailed.csv"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty runs root, shared mode off, the budgets at their defaults; no job starts unless a test lets it."""
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("CQA_RUNS_DIR", str(folder))
    monkeypatch.setenv("CQA_SHARED", "0")
    for name in ("CQA_MAX_JOB_TOKENS", "CQA_MAX_JOB_MINUTES", "CQA_MAX_JOBS_PER_VISITOR", "CQA_MAX_QUEUED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    monkeypatch.setattr(weights, "free_ram_bytes", lambda: 64 * 10**9)
    return folder


@pytest.fixture
def shared(root, monkeypatch):
    monkeypatch.setenv("CQA_SHARED", "1")
    return root


# ------------------------------------------------------------------------------------------------- cost

DEFAULTS = [  # every job kind at its defaults, on the sample data, by hand: the sample FAQ has 395 pairs, 355 to train
    (SFTJob(), 181_760, "355 examples × 1 epoch × 512 tokens"),
    (RLHFJob(), 122_880, "30 steps × 2 questions × 4 answers × 512 tokens (prompt + answer)"),
    (RLHFJob(method="dpo"), 92_160, "30 steps × 2 pairs × 3 sequences (own answer, chosen, rejected) × 512 tokens"),
    (EvalJob(), 17_568, "61 questions × (128 prompt + 160 answer tokens)"),  # 36 brief + 25 detailed
    (MemoryBenchJob(), 74_880, "30 conversations × 6 memories × (192 memory + 128 prompt + 96 answer tokens)"),
]


@pytest.mark.parametrize("job, tokens, why", DEFAULTS)
def test_default_jobs_cost_what_their_fields_say_and_a_twentieth_of_the_cap_at_most(shared, job, tokens, why):
    cost = budgets.estimate(job)
    assert (cost.weighted, cost.scale) == (tokens, 1.0)
    assert cost.describe().startswith(why)
    assert 20 * cost.weighted <= budgets.max_job_tokens()
    budgets.check(job)


@pytest.mark.parametrize("preset", sorted(grid.PRESETS))
def test_every_cell_of_the_sample_grids_passes_the_cap(shared, tmp_path, preset):
    spec = grid.PRESETS[preset]
    for cell in grid.cells(spec):
        budgets.check(grid.job_for(spec, cell, sft_run=tmp_path / "sft-run"))


ISSUE = [  # what the issue queued on a Space, and the fields the refusal names
    (RLHFJob(max_steps=100_000, batch_size=256, generations=64, max_new_tokens=1024),
     "about 1,703,936,000,000 tokens (100,000 steps × 256 questions × 64 answers × 1,040 tokens",
     "Lower max_steps, batch_size, generations or max_new_tokens."),
    (SFTJob(epochs=50, batch_size=256, max_length=8192), "about 145,408,000 tokens (355 examples × 50 epochs × 8,192",
     "Lower epochs, train_size or max_length."),
    (SFTJob(model="hub:databricks/dolly-v2-7b"), "512 tokens × 51.0 (dolly-v2-7b has 51.0x SmolLM2-135M's parameters)",
     "or pick a smaller model."),
]


@pytest.mark.parametrize("job, estimate, lower", ISSUE)
def test_the_issues_jobs_are_refused_in_shared_mode_naming_estimate_cap_and_fields(shared, job, estimate, lower):
    with pytest.raises(budgets.BudgetError) as refused:
        queue.submit(job, owner="alice")
    message = str(refused.value)
    assert estimate in message and "at most 4,000,000 (CQA_MAX_JOB_TOKENS)" in message and lower in message
    assert not any(shared.iterdir()), "nothing was queued"


def test_a_page_gets_the_refusal_as_refused(shared):
    with pytest.raises(queue.Refused, match="at most 4,000,000"):
        queue.submit_checked(ISSUE[0][0], owner="alice")


@pytest.mark.parametrize("job", [row[0] for row in ISSUE])
def test_the_same_jobs_are_queued_on_your_own_machine(root, job):
    run_id = queue.submit(job)
    assert queue.reconcile(root / run_id)["state"] == "queued"


def test_the_cap_follows_the_environment_and_covers_the_evaluation_queued_after_training(shared, monkeypatch):
    small = SFTJob(max_steps=1, batch_size=1, max_length=16)  # 16 tokens
    monkeypatch.setenv("CQA_MAX_JOB_TOKENS", "1000")
    budgets.check(small)
    with pytest.raises(budgets.BudgetError, match=r"The evaluation queued after it would process about 17,568 tokens"
                                                  r".*at most 1,000 .*Lower eval_tests\."):
        budgets.check(SFTJob(max_steps=1, batch_size=1, max_length=16, eval_tests=[BRIEF, DETAILED]))
    monkeypatch.setenv("CQA_MAX_JOB_TOKENS", "not a number")
    assert budgets.max_job_tokens() == 4_000_000


def test_a_job_whose_data_cannot_be_read_is_refused_saying_so(shared):
    with pytest.raises(budgets.BudgetError, match="no-such-data cannot be read, so the job's cost is unknown: no "
                                                  "dataset named 'no-such-data'"):
        queue.submit(SFTJob(data="no-such-data"), owner="alice")


# ---------------------------------------------------------------------------------------------- visitors


def test_a_visitor_may_have_two_jobs_queued_or_running_and_others_are_not_held_back(shared):
    first = queue.submit(SFTJob(eval_tests=[BRIEF]), owner="alice")  # its follow-up evaluation does not count
    queue.submit(MemoryBenchJob(), owner="alice")
    with pytest.raises(runs.RunError, match=r"You already have 2 jobs queued or running.*\(2\).*stop one"):
        queue.submit(MemoryBenchJob(), owner="alice")
    with pytest.raises(queue.Refused, match="You already have 2 jobs"):
        queue.submit_checked(MemoryBenchJob(), owner="alice")
    queue.submit(MemoryBenchJob(), owner="session:4f2a")
    for _ in range(3):
        queue.submit(MemoryBenchJob())  # the CLI and grids pass no owner: only the queue's own cap applies
    owners = sorted(r.owner for r in queue.list_runs())
    assert owners == ["", "", "", "alice", "alice", "alice", "session:4f2a"]
    queue.stop(first)
    queue.submit_checked(MemoryBenchJob(), owner="alice")


def test_visitors_are_not_limited_on_your_own_machine(root):
    for _ in range(3):
        queue.submit(MemoryBenchJob(), owner="alice")
    assert len(queue.list_runs()) == 3


# ------------------------------------------------------------------------------------------------- time


@pytest.fixture
def running(root, monkeypatch):
    """A queued run turned running, its process a plain sleeping child (or `script`), started `ago` seconds ago."""
    children = []

    def make(ago: float, script: str = "import time; time.sleep(60)"):
        run_id = queue.submit(MemoryBenchJob(), owner="alice")
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        children.append(child)
        if "ready" in script:
            child.stdout.readline()  # its SIGTERM handler is in place
        monkeypatch.setitem(queue._children, child.pid, child)
        runs.update_status(root / run_id, state="running", pid=child.pid, started_at=time.time() - ago)
        return run_id

    yield make
    for child in children:
        child.kill()
        child.wait()


def test_a_job_past_the_time_limit_is_stopped_as_stop_does(shared, running, monkeypatch):
    monkeypatch.setenv("CQA_MAX_JOB_MINUTES", "1")
    young, old = running(ago=30), running(ago=61)
    queue.pump()
    assert queue.reconcile(shared / young)["state"] == "running"
    final = queue.wait(old, timeout=10)
    assert final["state"] == "stopped" and final["stop_requested"]
    assert final["message"] == ("Stopped: it ran past the 1-minute limit per job on this shared app "
                                "(CQA_MAX_JOB_MINUTES).")


def test_a_job_that_ignores_the_stop_is_killed_minutes_later(shared, running, monkeypatch):
    monkeypatch.setenv("CQA_MAX_JOB_MINUTES", "1")
    run_id = running(61, "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', "
                         "flush=True); time.sleep(60)")
    queue.pump()
    time.sleep(0.5)
    assert queue.reconcile(shared / run_id)["state"] == "running"
    runs.update_status(shared / run_id, stop_requested_at=time.time() - budgets.KILL_AFTER_S - 1)
    final = queue.wait(run_id, timeout=10)
    assert final["state"] == "stopped" and "limit per job" in final["message"] and "was ended" in final["message"]


def test_no_time_limit_on_your_own_machine(root, running):
    run_id = running(ago=10 * 3600)
    queue.pump()
    assert queue.reconcile(root / run_id)["state"] == "running"


def test_a_resume_keeps_counting_the_time_already_run(shared, monkeypatch):
    monkeypatch.setenv("CQA_MAX_JOB_MINUTES", "1")
    run_id = queue.submit(MemoryBenchJob(), owner="alice")
    runs.checkpoint_file(shared / run_id).parent.mkdir()
    runs.checkpoint_file(shared / run_id).write_bytes(b"")
    runs.update_status(shared / run_id, state="stopped", started_at=100.0, ended_at=130.0)
    assert "Resuming" in queue.resume(run_id)
    assert runs.read_status(shared / run_id)["ran_s"] == 30
    runs.update_status(shared / run_id, state="stopped", started_at=200.0, ended_at=240.0)
    assert "used the 1-minute limit" in queue.resume(run_id)
    assert runs.read_status(shared / run_id)["state"] == "stopped"


# -------------------------------------------------------------------------------------------------- RAM


@pytest.fixture
def huge_model(tmp_path):
    """A model folder whose safetensors header claims 50 billion float32 weights (200 GB); the file is tiny."""
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    header = json.dumps({"weight": {"dtype": "F32", "shape": [50_000_000_000],
                                    "data_offsets": [0, 200_000_000_000]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    return f"folder:{folder}"


@pytest.mark.parametrize("kind", [SFTJob, MemoryBenchJob, EvalJob])
def test_a_model_too_big_for_the_free_ram_is_refused_before_it_is_queued(root, huge_model, monkeypatch, kind):
    monkeypatch.setattr(weights, "free_ram_bytes", lambda: 8 * 10**9)
    with pytest.raises(queue.Refused, match=r"huge needs about 250\.0 GB of RAM; 8\.0 GB is free"):
        queue.submit_checked(kind(model=huge_model))
    assert not any(root.iterdir())


def test_at_start_it_fails_saying_why_unless_a_running_job_may_free_the_memory(root, huge_model, monkeypatch):
    monkeypatch.setattr(weights, "free_ram_bytes", lambda: 8 * 10**9)
    monkeypatch.setattr(queue, "_launch", lambda *args: pytest.fail("nothing may start"))
    other = queue.submit(MemoryBenchJob())
    monkeypatch.setitem(queue._children, 4242, SimpleNamespace(poll=lambda: None))
    runs.update_status(root / other, state="running", pid=4242)
    monkeypatch.setattr(queue, "MAX_RUNNING", 2)
    waiting = queue.submit(SFTJob(model=huge_model))  # submit() leaves the RAM to the start
    assert queue.reconcile(root / waiting)["state"] == "queued"
    runs.update_status(root / other, state="finished")
    assert queue.pump() == []
    final = queue.reconcile(root / waiting)
    assert final["state"] == "failed" and final["message"].startswith("Not started: huge needs about 250.0 GB")

