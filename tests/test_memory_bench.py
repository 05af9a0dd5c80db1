import json
import re

import pytest

from studio.engines import base
from studio.evaluation import memory_bench
from studio.jobs import runs
from studio.jobs.kinds import MemoryBenchJob
from studio.memory import MEMORY_KINDS, MEMORY_LABELS

FACT = "Gold Plus"


def exchange(user, assistant="Noted."):
    return {"user": user, "assistant": assistant}


def conversation(fact_at: int, id_="c") -> dict:
    """Three short exchanges; the needed fact is stated in exchange `fact_at` (0 = first, 2 = last)."""
    turns = [exchange("Where is my e-card?", "In the app."), exchange("How do I renew?", "Online."),
             exchange("Can I call you?", "Yes, any time.")]
    turns[fact_at] = exchange(f"My plan is {FACT}.")
    return {"id": id_, "turns": turns, "final_question": "What room do I get?",
            "reference": "A single private room.", "needed_fact": FACT}


def run(tiny_models, conversations, **kwargs):
    kwargs = {"max_new_tokens": 8, "precision": "float32", **kwargs}
    return memory_bench.run_benchmark(f"folder:{tiny_models['llama']}", conversations, **kwargs)


def retained(result, kind) -> list[bool]:
    return [row["retained"] for row in result["rows"] if row["kind"] == kind]


@pytest.fixture(scope="module")
def small_result(tiny_models):
    """Every kind on two hand-made conversations, summaries written by the tiny model itself."""
    messages = []
    result = run(tiny_models, [conversation(0, "first"), conversation(2, "last")], progress=messages.append)
    return result, messages


# ---------------------------------------------------------------------------------------------- the bench file


def test_bench_file_needs_memory_for_every_final_question():
    conversations = memory_bench.load_conversations()
    assert len(conversations) == 30
    for c in conversations:
        fact = c["needed_fact"].lower()
        assert fact not in c["final_question"].lower(), c["id"]
        holding = [t for t in c["turns"] if fact in (t["user"] + " " + t["assistant"]).lower()]
        assert len(holding) == 1, c["id"]


GOOD = json.dumps(conversation(0, "ok"))


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"id": "x", "turns": [', "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({k: v for k, v in conversation(0).items() if k != "reference"}), "missing key(s) reference"),
        (json.dumps({**conversation(0), "turns": []}), "turns must be a non-empty list"),
        (json.dumps({**conversation(0), "turns": [{"user": "hi"}]}), "exchange 1 of turns"),
        (json.dumps({**conversation(0), "needed_fact": ""}), "needed_fact must be non-empty"),
        (json.dumps({**conversation(0), "final_question": "What does gold plus cover?"}), "in the final question"),
        (json.dumps({**conversation(0), "needed_fact": "Platinum"}), "in none of the earlier exchanges"),
        (json.dumps({**conversation(0), "id": "ok"}), "already used on line 1"),
    ],
)
def test_a_broken_bench_line_is_named(tmp_path, bad_line, message):
    path = tmp_path / "bench.jsonl"
    path.write_text(GOOD + "\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        memory_bench.load_conversations(path)
    assert "line 2:" in str(error.value) and message in str(error.value)


def test_an_empty_bench_file_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no conversations"):
        memory_bench.load_conversations(tmp_path / "empty.jsonl")


def test_one_config_per_memory_kind():
    configs = memory_bench.memory_configs(k=1, max_tokens=50)
    assert list(configs) == list(MEMORY_KINDS)
    assert all(c.kind == kind and c.k == 1 and c.max_tokens == 50 for kind, c in configs.items())


# -------------------------------------------------------------------------------------------------- retention


def test_none_keeps_no_fact_and_buffer_keeps_every_fact_on_the_bench(tiny_models):
    result = run(tiny_models, memory_bench.load_conversations()[:4], kinds=["buffer", "none"])
    assert list(result["kinds"]) == ["none", "buffer"]  # MEMORY_KINDS order, whatever order was asked
    assert result["kinds"]["none"]["retention"] == 0.0
    assert result["kinds"]["buffer"]["retention"] == 1.0
    # the tiny model has 256 positions: buffer prompts are cut, and retention is still about what memory kept
    assert result["kinds"]["buffer"]["truncated"] > 0
    assert result["kinds"]["buffer"]["prompt_tokens_mean"] > result["kinds"]["none"]["prompt_tokens_mean"]


# Exchanges of the hand-made conversation cost 26-36 tokens under the tiny tokenizer (all three about 97): a
# budget of 40 fits the last one only, 200 fits all three.
@pytest.mark.parametrize(
    "kind, k, max_tokens, fact_first, fact_last",
    [
        ("none", 1, 192, False, False),
        ("buffer", 1, 192, True, True),
        ("window", 1, 192, False, True),
        ("window", 3, 192, True, True),
        ("token_budget", 2, 40, False, True),
        ("token_budget", 2, 200, True, True),
    ],
)
def test_what_each_memory_keeps_of_a_three_exchange_conversation(tiny_models, kind, k, max_tokens, fact_first,
                                                                  fact_last):
    result = run(tiny_models, [conversation(0, "first"), conversation(2, "last")], kinds=[kind], k=k,
                 max_tokens=max_tokens)
    assert retained(result, kind) == [fact_first, fact_last]
    assert result["kinds"][kind]["retention"] == (fact_first + fact_last) / 2


@pytest.mark.parametrize("summary, expected", [(f"The user has the {FACT} plan.", True), ("A chat.", False)])
@pytest.mark.parametrize("kind", ["summary", "summary_buffer"])
def test_summary_kinds_retain_what_the_summary_says(tiny_models, monkeypatch, kind, summary, expected):
    calls = []

    def fake_complete(loaded, messages, settings):
        calls.append(messages[-1]["content"])
        return summary

    monkeypatch.setattr(base, "complete", fake_complete)
    # max_tokens=1: summary_buffer keeps no turn verbatim, so only its summary can carry the fact
    result = run(tiny_models, [conversation(0)], kinds=[kind], max_tokens=1)
    assert retained(result, kind) == [expected]
    assert calls and f"User: My plan is {FACT}." in calls[0], "the summarizer must see the earlier turns"


# ----------------------------------------------------------------------------------------------- the result


def test_every_kind_gets_a_score_and_progress_is_reported(small_result):
    result, messages = small_result
    assert list(result["kinds"]) == list(MEMORY_KINDS)
    assert result["conversations"] == 2 and len(result["rows"]) == 2 * len(MEMORY_KINDS)
    for kind, scores in result["kinds"].items():
        assert scores["label"] == MEMORY_LABELS[kind]
        assert 0.0 <= scores["retention"] <= 1.0 and scores["prompt_tokens_mean"] > 0 and scores["seconds"] >= 0
        rouge_l = scores["rouge"]["rougeL"]
        assert rouge_l["low"] <= rouge_l["mean"] <= rouge_l["high"]
        assert scores["rougeL_x100"] == pytest.approx(100 * rouge_l["mean"])
    assert result["settings"] == {**result["settings"], "k": 2, "max_tokens": 192, "max_new_tokens": 8,
                                  "precision": "float32"}
    assert messages[-2:] == ["summary_buffer: conversation 1/2", "summary_buffer: conversation 2/2"]
    assert sum(m.startswith("summary: conversation") for m in messages) == 2


def test_answers_are_greedy_and_reproducible(small_result, tiny_models):
    result, _ = small_result
    again = run(tiny_models, [conversation(0, "first"), conversation(2, "last")], kinds=["buffer"])
    assert [r["answer"] for r in again["rows"]] == [r["answer"] for r in result["rows"] if r["kind"] == "buffer"]


def test_unknown_kind_is_refused(tiny_models):
    with pytest.raises(ValueError, match="Unknown memory kind"):
        run(tiny_models, [conversation(0)], kinds=["buffer", "vector"])


def test_save_writes_json_that_reads_back(small_result, tmp_path, monkeypatch):
    result, _ = small_result
    path = memory_bench.save(result, tmp_path)
    assert re.fullmatch(r"tiny-llama-chat-\d{8}-\d{6}\.json", path.name)
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert list(loaded["kinds"]) == list(result["kinds"]) and loaded["rows"] == result["rows"]

    monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path / "runs"))
    assert memory_bench.save(result).parent == runs.memory_bench_dir() == tmp_path / "runs" / "memory-bench"


# ------------------------------------------------------------------------------------------------------ CLI


def test_cli_runs_end_to_end_and_prints_the_table(tiny_models, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = memory_bench.main(["--model", f"folder:{tiny_models['llama']}", "--limit", "2", "--max-new-tokens", "8",
                              "--precision", "float32", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["conversations"] == 2 and list(result["kinds"]) == list(MEMORY_KINDS)
    assert "retention" in printed and "ROUGE-L x100 (95% CI)" in printed and f"wrote {out}" in printed
    none_row = next(line for line in printed.splitlines() if line.startswith("none "))
    assert "0%" in none_row
    assert all(re.search(rf"^{kind} +\d+%", printed, re.M) for kind in MEMORY_KINDS)


@pytest.mark.parametrize("problem", ["broken bench", "unknown model"])
def test_cli_reports_problems_without_a_traceback(tiny_models, tmp_path, capsys, problem):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(GOOD + "\n{oops\n", encoding="utf-8")
    model = f"folder:{tmp_path / 'no-such-model'}" if problem == "unknown model" else f"folder:{tiny_models['llama']}"
    args = ["--model", model] + (["--bench", str(bench)] if problem == "broken bench" else ["--limit", "1"])
    assert memory_bench.main(args) == 2
    error = capsys.readouterr().err
    assert ("line 2" in error) if problem == "broken bench" else ("no-such-model" in error)


@pytest.mark.parametrize("job, message", [
    ({"kind": "memory_bench", "model": "folder:/no/such/model"}, "/no/such/model"),
    ({"kind": "memory_bench", "k": 0}, "must be positive"),
])
def test_a_queued_benchmark_that_cannot_run_ends_failed_saying_why(tmp_path, job, message):
    (tmp_path / runs.CONFIG).write_text(json.dumps(job))
    assert memory_bench.main([str(tmp_path / runs.CONFIG)]) == 1
    status = runs.read_status(tmp_path)
    assert status["state"] == "failed" and message in status["message"] and status["ended_at"] > 0


def test_a_queued_benchmark_writes_its_result_where_results_reads_it(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path))
    run_dir = tmp_path / "bench-run"
    run_dir.mkdir()
    MemoryBenchJob(model=f"folder:{tiny_models['llama']}", limit=1, max_new_tokens=4).save(run_dir / runs.CONFIG)
    assert memory_bench.main([str(run_dir / runs.CONFIG)]) == 0
    status = runs.read_status(run_dir)
    assert status["state"] == "finished" and status["message"].startswith("Done: ")
    [saved] = runs.memory_bench_dir().glob("*.json")
    assert json.loads(saved.read_text()) == json.loads((run_dir / runs.MEMORY_BENCH_RESULT).read_text())
