"""Retrieval-augmented fine-tuning: grounded prompts from a real MiniLM collection, the gold passage kept or dropped,
the no-source target rule, and training with knowledge set (tiny models)."""

import csv
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from transformers import AutoTokenizer

from studio.jobs import runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import SFTJob
from studio.knowledge import grounding, store
from studio.knowledge.collection import Passage
from studio.training import grounded_examples, lora, sft
from studio.training.answer_loss import tokenize
from studio.training.examples import load_examples

PAIRS = [
    ("How long is the free look period?", "The free look period is 15 days from receiving the policy."),
    ("What is the waiting period for cataract?", "Cataract has a 24-month waiting period."),
    ("Which number do I call for cashless approval?", "Call 1800 266 4545, open 24 hours a day."),
    ("How much does Gold Plus pay per delivery?", "Gold Plus pays up to Rs. 50,000 per delivery."),
    ("Does Silver cover maternity?", "No. Silver does not cover maternity."),
    ("How many days after discharge is follow-up care paid?", "Follow-up care is paid for 90 days after discharge."),
    ("What is the room rent limit on Silver?", "Silver pays room rent up to 1% of the sum insured per day."),
    ("Who processes the claims?", "Claims are processed by Pallava Health TPA."),
    ("What is the no claim bonus?", "The no claim bonus adds 10% of the sum insured for each claim-free year."),
    ("Is air ambulance covered?", "Only Platinum covers air ambulance, up to Rs. 2 lakh a year."),
    ("For how long is the free look period?", "You have 15 days from receiving the policy to return it."),
    ("How long must I wait before cataract surgery is covered?", "Cataract is covered after 24 months."),
]


@pytest.fixture(scope="module")
def faq(tmp_path_factory) -> Path:
    """A Q/A file and a collection over it (name "faq") in a knowledge folder of its own."""
    folder = tmp_path_factory.mktemp("grounded")
    path = folder / "faq.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "answer"])
        writer.writerows(PAIRS)
    patch = pytest.MonkeyPatch()
    patch.setenv("CQA_KNOWLEDGE_DIR", str(folder / "knowledge"))
    store.create("faq", [path])
    yield path
    patch.undo()


def job(faq: Path, **overrides) -> SFTJob:
    return SFTJob.from_dict({"data": str(faq), "knowledge": "faq", "knowledge_k": 2, "val_fraction": 0.1,
                             **overrides})


def examples(faq: Path, cfg: SFTJob):
    train, val = load_examples(cfg)
    return train + val


# ------------------------------------------------------------------------------------------------ configs


def test_config_round_trips_with_knowledge_and_old_configs_still_load(tmp_path):
    cfg = SFTJob(knowledge="faq", knowledge_k=5, gold_drop=0.3)
    assert SFTJob.load(cfg.save(tmp_path / "c.json")) == cfg
    old = json.loads(SFTJob().to_json())
    for name in ("knowledge", "knowledge_k", "gold_drop"):
        del old[name]
    loaded = SFTJob.from_dict(old)
    assert (loaded.knowledge, loaded.knowledge_k, loaded.gold_drop) == (None, 3, 0.0)
    assert SFTJob.from_dict({"knowledge": ""}).knowledge is None, "the form's 'None' choice sends an empty value"


@pytest.mark.parametrize("bad, message", [({"knowledge_k": 0}, "knowledge_k must be at least 1"),
                                          ({"gold_drop": 1.5}, "gold_drop between 0 and 1"),
                                          ({"knowledge_k": 50}, "knowledge_k must be at most 20")])
def test_bad_knowledge_settings_are_refused(bad, message):
    with pytest.raises(ConfigError, match=message):
        SFTJob.from_dict({"knowledge": "faq", **bad})


def test_cli_takes_the_knowledge_options(tmp_path):
    cfg, run_dir, _ = sft.parse_args(["--model", "bundled:smollm2-135m-instruct", "--data", "a.csv", "--knowledge",
                                      "faq", "--knowledge-k", "4", "--gold-drop", "0.5", "--out", str(tmp_path)])
    assert (cfg.knowledge, cfg.knowledge_k, cfg.gold_drop, run_dir) == ("faq", 4, 0.5, tmp_path)
    cfg, _, _ = sft.parse_args(["--model", "m", "--data", "a.csv", "--out", str(tmp_path)])
    assert cfg.knowledge is None


@pytest.mark.parametrize("name, message", [("missing", "no collection named 'missing'"),
                                           ("../outside", "not a valid collection name")])
def test_an_unknown_collection_stops_the_run_before_the_model_loads(faq, tiny_models, tmp_path, monkeypatch, name,
                                                                    message):
    monkeypatch.setattr(lora, "load_trainable", lambda *a, **k: pytest.fail("the model was loaded"))
    cfg = job(faq, model=f"folder:{tiny_models['llama']}", knowledge=name)
    with pytest.raises(ConfigError, match=message):
        sft.run(cfg, tmp_path)
    assert not (tmp_path / runs.ADAPTER).exists()
    assert runs.read_status(tmp_path)["state"] == "failed"


def test_a_model_without_a_system_prompt_cannot_train_with_knowledge(faq, tiny_models, tmp_path, monkeypatch):
    monkeypatch.setattr(lora, "load_trainable", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(ConfigError, match="without a system prompt"):
        sft.run(job(faq, model=f"folder:{tiny_models['gpt2']}"), tmp_path)  # DialoGPT: turns style


# ------------------------------------------------------------------------------------------------ examples


@pytest.mark.parametrize("gold_drop", [0.0, 0.25, 0.5, 1.0])
def test_the_dropped_share_matches_gold_drop_and_is_seeded(faq, gold_drop):
    cfg = job(faq, gold_drop=gold_drop)
    items = examples(faq, cfg)
    first = grounded_examples.ground_examples(cfg, items, seed=0)
    with_gold = [g for g in first if g.gold != "none"]
    assert len(with_gold) == len(items), "every pair of the indexed file finds its own passage"
    assert sum(g.gold == "dropped" for g in first) == int(gold_drop * len(with_gold) + 0.5)
    again = grounded_examples.ground_examples(cfg, items, seed=0)
    assert [g.gold for g in again] == [g.gold for g in first]
    assert all(len(g.passages) == cfg.knowledge_k for g in first)
    if 0 < gold_drop < 1:
        others = [[g.gold for g in grounded_examples.ground_examples(cfg, items, seed=s)] for s in range(1, 6)]
        assert any(o != [g.gold for g in first] for o in others), "another seed drops other examples"


def test_the_prompt_holds_the_gold_passage_only_when_kept(faq, tiny_models):
    cfg = job(faq, gold_drop=0.5, max_length=4096)
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"])
    train, val = load_examples(cfg)
    tokenized, _, built = grounded_examples.build(
        cfg, grounded_examples.retrieve_all(cfg, train, val), lambda e, p=None: tokenize(e, tokenizer, "chat", False, cfg, p))
    assert {g.gold for g in built["train"]} == {"kept", "dropped"}
    for g, t in zip(built["train"], tokenized):
        question, answer = g.example.messages[-1]["content"], g.example.answer
        text = tokenizer.decode(t.input_ids)
        gold = f"Q: {question}\nA: {answer}"
        assert (gold in text) == (g.gold == "kept"), (g.gold, text)
        assert store.GROUNDING_INSTRUCTIONS in text and cfg.system_prompt in text
        target = tokenizer.decode([i for i in t.labels if i != -100], skip_special_tokens=True)
        assert target == (grounding.no_source_reply("faq") if g.no_source else answer)
        assert not g.no_source or g.gold == "dropped"
    counts = built["counts"]
    assert counts["gold_kept"] + counts["gold_dropped"] == counts["examples"] == len(PAIRS)
    assert counts["prompts_cut_from_left"] == 0


def test_a_prompt_too_long_loses_its_last_passages_not_the_question(faq, tiny_models):
    cfg = job(faq, gold_drop=0.0, knowledge_k=3, max_length=170)
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"])
    train, val = load_examples(cfg)
    tokenized, _, built = grounded_examples.build(
        cfg, grounded_examples.retrieve_all(cfg, train, val), lambda e, p=None: tokenize(e, tokenizer, "chat", False, cfg, p))
    shortened = [(g, t) for g, t in zip(built["train"], tokenized) if g.dropped_for_length]
    assert shortened, "max_length 170 is too short for three passages"
    for g, t in shortened:
        text = tokenizer.decode(t.input_ids)
        assert g.example.messages[-1]["content"] in text and len(t.input_ids) <= cfg.max_length
        assert len(g.citations) == len(g.passages) - g.dropped_for_length
        assert g.passages[0].text in text or t.prompt_cut, "the best passage stays unless even it does not fit"
    assert built["counts"]["passages_left_out_for_length"] == len(
        [g for g in built["train"] + built["val"] if g.dropped_for_length])


def passage(text: str) -> Passage:
    return Passage(text, "faq.csv", row=2)


@pytest.mark.parametrize("answer, context, carried", [
    ("The free look period is 15 days.", ["You have 15 days to return the policy."], True),
    ("The free look period is 15 days.", ["You have 30 days to return the policy."], False),
    ("Gold Plus pays up to Rs. 50,000 per delivery.", ["Gold Plus: maternity Rs. 50000 a delivery."], True),
    ("Gold Plus pays up to Rs. 50,000 per delivery.", ["Platinum pays Rs. 50,000 per delivery."], False),
    ("It lasts five years.", ["The term is 5 years."], True),
    ("Cataract has a 24-month waiting period.", ["Cataract: waiting period of 24 months."], True),
    ("Yes, it is covered.", ["Yes, it is covered."], False),
    ("Claims go to Pallava Health TPA.", ["A TPA handles claims."], False),
    ("Claims go to Pallava Health TPA.", ["Pallava", "Health TPA settles them."], True),
    ("It is paid in one policy year.", ["Paid per policy year."], False),
])
def test_the_no_source_rule(answer, context, carried):
    assert grounded_examples.context_carries(answer, [passage(t) for t in context]) is carried


def test_a_dropped_example_keeps_its_reference_when_a_paraphrase_carries_the_facts(faq):
    cfg = job(faq, gold_drop=1.0, knowledge_k=3)
    grounded = grounded_examples.ground_examples(cfg, examples(faq, cfg), seed=0)
    by_question = {g.example.messages[-1]["content"]: g for g in grounded}
    assert not by_question["How long is the free look period?"].no_source, "its paraphrase states 15 days"
    assert by_question["Who processes the claims?"].no_source


def test_a_declining_reference_trains_the_chats_no_source_reply(faq, tmp_path):
    """Questions written to teach refusing ("I have no source for that.") get the chat's exact refusal as target,
    whether or not retrieval found anything; answering references stay as written."""
    data = tmp_path / "with_refusals.csv"
    data.write_text(faq.read_text() + "Which bank pays the claims?,I have no source for that.\n"
                    "Does the policy pay for a gym membership?,The sources do not mention a gym membership.\n")
    cfg = job(data, gold_drop=0.0)
    grounded = {g.example.messages[-1]["content"]: g for g in grounded_examples.ground_examples(
        cfg, examples(data, cfg), seed=0)}
    for question in ("Which bank pays the claims?", "Does the policy pay for a gym membership?"):
        assert grounded[question].gold == "none" and grounded[question].no_source
        assert grounded_examples.target(grounded[question], cfg) == grounding.no_source_reply("faq")
    answering = [g for q, g in grounded.items() if q in dict(PAIRS)]
    assert len(answering) == len(PAIRS) and not any(g.no_source for g in answering)


# ------------------------------------------------------------------------------------------------ training


def test_two_steps_with_knowledge_change_lora_weights_and_record_the_examples(faq, tiny_models, tmp_path):
    cfg = job(faq, model=f"folder:{tiny_models['llama']}", batch_size=4, max_steps=2, learning_rate=1e-2,
              threads=1, max_length=256, gold_drop=0.2)
    summary = sft.run(cfg, tmp_path)
    assert summary["state"] == "finished" and summary["steps"] == 2
    weights = load_file(tmp_path / runs.ADAPTER / "adapter_model.safetensors")
    assert any(w.abs().sum() > 0 for name, w in weights.items() if "lora_B" in name)
    counts = summary["knowledge"]
    assert counts["collection"] == "faq" and counts["examples"] == len(PAIRS)
    assert counts["gold_dropped"] == round(0.2 * (len(PAIRS) - 1)) + round(0.2 * 1)
    lines = [json.loads(line) for line in (tmp_path / grounded_examples.EXAMPLES_FILE).read_text().splitlines()]
    assert len(lines) == len(PAIRS) and {line["split"] for line in lines} == {"train", "val"}
    assert all(line["sources"] and line["gold"] in ("kept", "dropped") for line in lines)
    assert SFTJob.load(tmp_path / runs.CONFIG).knowledge == "faq"
