"""Fact accuracy in evaluation results, evaluation with a knowledge collection (grounded prompts, hit@k), and the
shipped test_policy.csv with its named sources."""

import json
from pathlib import Path

import pytest

from studio.data import qa
from studio.engines import hf, loader
from studio.engines.prompts import prompts_for
from studio.evaluation import evaluate
from studio.answer_check import UNCHECKED
from studio.knowledge import collection, store, support
from studio.knowledge.collection import Passage


@pytest.fixture
def llama(tiny_models):
    return loader.load_model(f"folder:{tiny_models['llama']}", precision="float32")


def fake_answers(monkeypatch, answers: dict[str, str], seen: list | None = None) -> None:
    """The model's answers replaced by `answers` (question -> answer); `seen` collects the system prompts."""
    def generate(loaded, questions, settings, batch_size=8, system_prompts=None):
        if seen is not None:
            seen.extend(system_prompts or [settings.system_prompt] * len(questions))
        return [answers[q] for q in questions], {"seconds": 0.1, "generated_tokens": 1, "tokens_per_s": 10.0,
                                                 "batch_size": batch_size}
    monkeypatch.setattr(evaluate, "generate_answers", generate)


def test_rows_carry_facts_and_the_aggregate_their_interval(llama, tmp_path, monkeypatch):
    test = tmp_path / "test_brief.csv"
    test.write_text("question,answer\nHow long is the wait?,You wait 30 days.\nIs dental covered?,No. It is excluded."
                    "\nWho are you?,I am the assistant.\n")
    fake_answers(monkeypatch, {"How long is the wait?": "The wait is thirty days.",
                               "Is dental covered?": "Yes, dental is covered.", "Who are you?": "A helper."})
    result = evaluate.evaluate(llama, test)
    rows = {row["question"]: row for row in result["rows"]}
    assert rows["How long is the wait?"]["facts"] == 1.0 and rows["How long is the wait?"]["missed_facts"] == []
    assert rows["Is dental covered?"]["facts"] == 0.0 and rows["Is dental covered?"]["missed_facts"]
    assert rows["Who are you?"]["facts"] is None  # no key facts in the reference: not scored
    facts = result["aggregate"]["facts"]
    assert (facts["scored"], facts["skipped"]) == (2, 1) and result["facts_x100"] == 50.0
    assert facts["low"] <= facts["mean"] <= facts["high"] and (facts["low"], facts["high"]) == (0.0, 1.0)
    assert result["knowledge"] is None and result["retrieval"] is None and "sources" not in rows["Who are you?"]
    json.dumps(result)


def test_summary_line_names_rouge_facts_and_hits():
    agg = {"rougeL": {"mean": 0.5, "low": 0.4, "high": 0.6},
           "facts": {"mean": 0.75, "low": 0.5, "high": 1.0, "scored": 4, "skipped": 1}}
    line = evaluate.summary_line({"aggregate": agg, "rougeL_x100": 50.0,
                                  "retrieval": {"hit@1": 0.5, "hit@3": 1.0, "with_source": 4}})
    assert line == ("ROUGE-L F1 x100 = 50.00 (95% CI 40.00-60.00), facts 75.0% (95% CI 50.0-100.0; 4 scored, 1 "
                    "without key facts), retrieval hit@1 0.50 hit@3 1.00 (4 questions with a named source)")
    old = evaluate.summary_line({"aggregate": {"rougeL": agg["rougeL"]}, "rougeL_x100": 50.0})
    assert old == "ROUGE-L F1 x100 = 50.00 (95% CI 40.00-60.00)"  # a result from before facts


THREE = [Passage("Maternity waits 9 months.", "policy.md", section="4. Maternity"),
         Passage("Ambulance up to Rs 2,000.", "policy.pdf", page=7),
         Passage("Renewal within 30 days.", "policy.md", section="6. Renewal")]


@pytest.mark.parametrize("order, source, hit1, hit3", [
    ([0, 1, 2], ("4. Maternity", None), 1.0, 1.0),   # section match, first
    ([1, 0, 2], ("4. Maternity", None), 0.0, 1.0),   # section match, second
    ([0, 2, 1], ("", 7), 0.0, 1.0),                  # page match, third
    ([1, 2, 0], ("", 7), 1.0, 1.0),
    ([0, 2, 1], ("9. Claims", 3), 0.0, 0.0),         # neither
    ([2, 0, 1], ("6. renewal", None), 0.0, 0.0),     # sections are compared exactly
])
def test_hit_at_k_against_three_known_passages(order, source, hit1, hit3):
    found = [THREE[i] for i in order]
    assert evaluate.retrieval_hits([found, found], [source, None]) == {"hit@1": hit1, "hit@3": hit3, "with_source": 1}


def test_hit_at_k_is_absent_when_no_row_names_a_source():
    assert evaluate.retrieval_hits([THREE], [None]) is None


def test_test_policy_loads_and_names_a_source_for_every_question():
    records = qa.load_file("assets/test_policy.csv").records
    sources = evaluate.question_sources("assets/test_policy.csv", len(records))
    assert len(records) == len(sources) == 24 and all(sources)
    lines = Path("assets/policy_wording.md").read_text().splitlines()
    headings = {line.lstrip("#").strip() for line in lines if line.startswith("#")}
    assert all(section in headings and page >= 1 for section, page in sources)
    assert sources[1] == ("1. Preamble", 1)
    assert evaluate.question_sources("assets/test_brief.csv", 3) == [None, None, None]


CLUB = """# Club rules

## 1. Opening hours
The club opens at 6 AM and closes at 10 PM every day.

## 2. Guests
Each member may bring two guests a month; a guest pays Rs 500 a visit.

## 3. Lockers
Lockers are emptied on the last Sunday of each month.
"""


@pytest.fixture
def club(tmp_path, monkeypatch):
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    (tmp_path / "club.md").write_text(CLUB)
    store.create("club", [tmp_path / "club.md"])
    test = tmp_path / "test_club.csv"
    test.write_text("question,answer,source_section,source_page\n"
                    "How much does a guest pay?,Rs 500 a visit.,2. Guests,\n"
                    "When do lockers get emptied?,On the last Sunday of each month.,3. Lockers,\n"
                    "What is the capital of France?,Paris.,,\n")
    return test


def test_knowledge_puts_the_retrieved_passage_into_each_prompt(llama, club, monkeypatch):
    seen = []
    fake_answers(monkeypatch, {"How much does a guest pay?": "Rs 500 a visit [1].",
                               "When do lockers get emptied?": "Every Monday.",
                               "What is the capital of France?": "Paris."}, seen)
    result = evaluate.evaluate(llama, club, system_prompt="You are helpful.", knowledge_name="club", knowledge_k=1,
                               answer_style="generate")
    guests, lockers = seen  # nothing close enough to France: the chat's fixed reply, the model is not asked
    assert guests.startswith("You are helpful.\n\n" + store.GROUNDING_INSTRUCTIONS)
    assert "Rs 500 a visit" in guests and "emptied" not in guests  # k=1: only the best passage
    assert "last Sunday" in lockers and "Rs 500" not in lockers
    assert result["rows"][2]["answer"] == "I have no source for that in club." and result["rows"][2]["refused"]
    assert guests == store.grounded_prompt(store.retrieve("club", "How much does a guest pay?", 1),
                                               "You are helpful.")  # the chat's own prompt text
    assert result["retrieval"] == {"hit@1": 1.0, "hit@3": 1.0, "with_source": 2}
    assert result["rows"][0]["sources"] == ["club.md § 2. Guests"]
    assert result["knowledge"] == "club" and result["knowledge_k"] == 1
    assert [row["facts"] for row in result["rows"][:2]] == [1.0, 0.0]
    assert [row["verdict"] for row in result["rows"][:2]] == ["every fact found in the sources",
                                                             "not found in the sources: Monday"]
    assert result["grounded"]["unsupported"]["mean"] == 0.5 and result["grounded"]["refused"]["mean"] == 1 / 3


def test_auto_asks_an_unsupported_answer_again_then_quotes_the_source(llama, club, monkeypatch):
    seen = []
    fake_answers(monkeypatch, {"How much does a guest pay?": "Rs 700 a visit.",
                               "When do lockers get emptied?": "On the last Sunday of each month [1].",
                               "What is the capital of France?": "Paris."}, seen)
    result = evaluate.evaluate(llama, club, knowledge_name="club", knowledge_k=1)
    assert len(seen) == 3 and support.RETRY_INSTRUCTIONS in seen[2]  # only the guest question is asked again
    guests, lockers, _ = result["rows"]
    assert guests["answer"] == UNCHECKED + "From club.md § 2. Guests: Each member may bring two guests a month; a " \
                               "guest pays Rs 500 a visit." and guests["answered_by"] == "quote"
    assert guests["refused"] and not guests["unsupported"]  # evidence shown, not an answer
    assert guests["model_answer"] == "Rs 700 a visit." and guests["unsupported"] is False
    assert lockers["answered_by"] == "model" and lockers["citation_precision"] == 1.0
    assert result["grounded"]["answered_by"] == {"model": 1, "retry": 0, "quote": 1}
    quoted = evaluate.evaluate(llama, club, knowledge_name="club", knowledge_k=1, answer_style="quote")
    assert len(seen) == 3 and UNCHECKED + quoted["rows"][0]["answer"] == guests["answer"]  # quote: no model


def test_knowledge_prompts_reach_the_model_batched(llama, club):
    """The real generation path: each question in a batch reads its own grounded system prompt."""
    prompts, _, _ = evaluate.ground_questions(["How much does a guest pay?", "When do lockers get emptied?"], "",
                                           "club", 1, "hybrid")
    encoded = prompts_for(llama, ["How much does a guest pay?", "When do lockers get emptied?"], prompts)
    texts = [llama.tokenizer.decode(ids) for ids in encoded]
    assert "Rs 500" in texts[0] and "last Sunday" in texts[1] and "last Sunday" not in texts[0]
    result = evaluate.evaluate(llama, club, batch_size=3, max_new_tokens=3, knowledge_name="club")
    assert len(result["rows"]) == 3 and result["perplexity"] > 1


def test_results_with_and_without_knowledge_are_kept_apart(tmp_path):
    plain = evaluate.result_path(tmp_path, "assets/test_brief.csv")
    grounded = evaluate.result_path(tmp_path, "assets/test_brief.csv", "sample-faq")
    assert plain.name == "eval-test_brief.json" and grounded.name == "eval-test_brief+sample-faq.json"
    quoted = evaluate.result_path(tmp_path, "assets/test_brief.csv", "sample-faq", "quote")
    assert quoted.name == "eval-test_brief+sample-faq+quote.json"


def test_cli_with_an_unknown_collection_says_so_and_writes_nothing(tiny_models, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    out = tmp_path / "out.json"
    code = evaluate.main(["--model", f"folder:{tiny_models['llama']}", "--test", "assets/test_brief.csv",
                          "--knowledge", "nowhere", "--out", str(out)])
    assert code == 1 and "No collection named 'nowhere'" in capsys.readouterr().err and not out.exists()


def test_cli_prints_facts_and_hits(llama, club, tiny_models, tmp_path, capsys):
    out = tmp_path / "out.json"
    code = evaluate.main(["--model", f"folder:{tiny_models['llama']}", "--test", str(club), "--knowledge", "club",
                          "--max-new-tokens", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "retrieval hit@1 1.00 hit@3 1.00 (2 questions with a named source)" in printed
    assert "ROUGE-L F1 x100 =" in printed and json.loads(out.read_text())["knowledge"] == "club"


def test_sample_collections_are_built_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path))
    assert store.sample_collection() == collection.SAMPLE_POLICY
    folder = tmp_path / collection.SAMPLE_POLICY
    before = (folder / collection.META).read_bytes()
    assert store.sample_collection(collection.SAMPLE_POLICY) == collection.SAMPLE_POLICY
    assert (folder / collection.META).read_bytes() == before, "a second call changes nothing"
    found = store.retrieve(collection.SAMPLE_POLICY, "How long is the free look period?", 3)
    assert found and all(p.file == "policy_wording.pdf" and p.page for p in found)
    with pytest.raises(collection.KnowledgeError, match="not a sample collection"):
        store.sample_collection("mine")


@pytest.mark.parametrize("lengths, batch_size, expected", [
    ([10, 10, 10, 10], 2, [[0, 1], [2, 3]]),                  # the batch size alone
    ([3000, 3000, 3000, 3000], 32, [[0, 1], [2, 3]]),         # long prompts: at most 8192 prompt tokens a batch
    ([100, 4000, 5000], 32, [[0, 1], [2]]),                   # padded to the widest
    ([9000, 9000], 32, [[0], [1]]),                           # one over the budget still gets a batch of its own
])
def test_long_prompts_get_smaller_batches(lengths, batch_size, expected):
    assert hf._batches(list(range(len(lengths))), lengths, batch_size) == expected
