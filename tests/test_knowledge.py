"""Collections with the real bundled MiniLM: build, retrieve with citations, persist, add/delete one file, refuse bad
input without changing anything, support threshold, grounded prompt, follow-up queries and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio import cli
from studio.knowledge import collection, documents, embeddings, store
from studio.knowledge.collection import KnowledgeError
from tests.test_documents import BAD_INPUTS, make_bad, make_docx

pytestmark = pytest.mark.skipif(bool(embeddings.available()), reason=embeddings.available() or "")

DATA = Path(__file__).parent / "data" / "knowledge"
ASSETS = Path(__file__).parent.parent / "assets"
QUESTIONS = [
    ("How much is the yearly fee for a junior?", "handbook.md § 1.1 Fees"),
    ("Is a helmet required on club rides?", "handbook.md § 2.2 Safety"),
    ("What time does the Sunday ride leave?", "handbook.md § 2.1 Sunday ride"),
    ("What are the opening hours of the club house?", "club_faq.csv row 2"),
    ("How long does a workshop stand booking last?", "club_faq.csv row 4"),
]


@pytest.fixture
def copy_of_club(club, tmp_path, monkeypatch):
    """A private copy of the club collection that a test may change."""
    root = tmp_path / "knowledge"
    shutil.copytree(club, root)
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(root))
    return root / "club"


def answers(name: str) -> list[list[str]]:
    return [[p.citation for p in store.retrieve(name, q, k=3)] for q, _ in QUESTIONS]


@pytest.mark.parametrize("mode", collection.MODES)
@pytest.mark.parametrize("question, citation", QUESTIONS)
def test_retrieve_finds_the_passage_and_cites_it(club, question, citation, mode):
    passages = store.retrieve("club", question, k=3, mode=mode)
    assert len(passages) == 3 or (mode == "bm25" and passages)  # BM25 returns only passages sharing a word
    assert citation in [p.citation for p in passages]
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_citations_name_page_section_or_row():
    cases = [(dict(page=7), "policy_wording.pdf p. 7"), (dict(section="4.2 Room Rent"), "policy_wording.pdf § 4.2 Room Rent"),
             (dict(page=7, section="8.1 Cashless claims"), "policy_wording.pdf p. 7 § 8.1 Cashless claims"),
             (dict(row=12, row_kind="row"), "policy_wording.pdf row 12"), (dict(), "policy_wording.pdf")]
    for fields, label in cases:
        assert collection.Passage("text", "policy_wording.pdf", **fields).citation == label


def test_list_collections_counts_passages_per_file(club):
    (info,) = store.list_collections()
    assert info.name == "club" and info.files["club_faq.csv"] == 3 and info.passages == sum(info.files.values())


def test_collection_survives_a_restart(copy_of_club):
    before = answers("club")
    store._cache.clear()  # a fresh process: everything is read back from disk
    fresh = collection.Collection("club")
    assert len(fresh.passages) == fresh.dense.ntotal
    assert answers("club") == before


def test_adding_a_file_embeds_only_that_file(copy_of_club, monkeypatch):
    old = collection.Collection("club")
    before = {p.id: (p.text, old.dense.reconstruct(p.id).tolist()) for p in old.passages}
    encoder = embeddings.embedder()
    seen: list[str] = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, **kw: seen.extend(texts) or original(texts, **kw))
    assert store.add_files("club", [DATA / "club_page.html"]) == {"club_page.html": 3}
    assert seen and all("Q: " not in text and "1,200 rupees" not in text for text in seen)
    assert store.retrieve("club", "When do the night rides begin?", k=1)[0].citation == "club_page.html § Night rides"
    new = collection.Collection("club")
    assert {p.id: (p.text, new.dense.reconstruct(p.id).tolist()) for p in new.passages if p.id in before} == before
    assert len(new.passages) == len(before) + 3


def test_deleting_a_file_removes_only_its_passages(copy_of_club):
    assert store.delete("club", "club_faq.csv") == "Removed club_faq.csv (3 passages) from 'club'"
    store._cache.clear()
    assert {p.file for p in collection.Collection("club").passages} == {"handbook.md"}
    assert store.retrieve("club", QUESTIONS[0][0], k=1)[0].citation == "handbook.md § 1.1 Fees"
    with pytest.raises(KnowledgeError, match="not in collection"):
        store.delete("club", "club_faq.csv")
    assert store.delete("club") == "Deleted collection 'club'" and collection.names() == []


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", [kind for kind, _ in BAD_INPUTS] + ["too_large", "same_name", "same_content"])
def test_bad_input_leaves_the_collection_unchanged(kind, copy_of_club, tmp_path, monkeypatch):
    before_files, before_answers = snapshot(copy_of_club), answers("club")
    if kind == "too_large":
        monkeypatch.setattr(documents, "MAX_FILE_BYTES", 100)
        bad, message = DATA / "notes.txt", "more than the limit"
    elif kind == "same_name":
        bad, message = DATA / "handbook.md", "already in collection 'club'"
    elif kind == "same_content":
        bad, message = tmp_path / "handbook_copy.md", "same content is already in 'club' as handbook.md"
        shutil.copy(DATA / "handbook.md", bad)
    else:
        bad, message = make_bad(kind, tmp_path), dict(BAD_INPUTS)[kind]
    with pytest.raises(KnowledgeError) as error:
        store.add_files("club", [DATA / "notes.txt", bad])  # one good file, one bad: neither is added
    assert message in str(error.value) and str(error.value).startswith("Nothing was added.")
    assert snapshot(copy_of_club) == before_files
    assert answers("club") == before_answers


def test_the_same_file_is_replaced_only_when_asked(copy_of_club, tmp_path):
    changed = tmp_path / "handbook.md"
    changed.write_text("# Handbook\n\n## Fees\n\nThe yearly fee is now 1,500 rupees for adults.\n")
    assert store.add_files("club", [changed], replace=True) == {"handbook.md": 1}
    (info,) = store.list_collections()
    assert info.files == {"handbook.md": 1, "club_faq.csv": 3}
    assert "1,500 rupees" in store.retrieve("club", "What is the yearly fee?", k=1)[0].text


def test_docx_and_pdf_files_are_indexed_with_their_places(copy_of_club, tmp_path):
    store.add_files("club", [make_docx(tmp_path / "rules.docx"), ASSETS / "policy_wording.pdf"])
    assert store.retrieve("club", "How much does a locker cost?", k=1)[0].citation == "rules.docx § Lockers"
    top = store.retrieve("club", "Which illnesses have a 24-month waiting period, like hernia?", k=3)
    assert "policy_wording.pdf p. 5 § 5.2 Specific illnesses and procedures" in [p.citation for p in top]


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 65])
def test_collection_names_that_leave_the_folder_are_refused(club, name):
    with pytest.raises(KnowledgeError, match="not a valid collection name"):
        store.add_files(name, [DATA / "notes.txt"])


def test_create_refuses_an_existing_name_and_unknown_collections_are_named(club):
    with pytest.raises(KnowledgeError, match="already exists"):
        store.create("club", [DATA / "notes.txt"])
    with pytest.raises(KnowledgeError, match="No collection named 'nope'. Existing: club"):
        store.retrieve("nope", "anything")


@pytest.mark.parametrize("question, supported", [
    ("How much is the yearly fee for a junior?", True),
    ("Can I bring a guest on a ride?", True),
    ("What is the capital of France?", False),
    ("Who painted the Mona Lisa?", False),
    ("Write a Python function that sorts a list.", False),
])
def test_off_topic_questions_have_no_support(club, question, supported):
    assert store.has_support(store.retrieve("club", question), store.SUPPORT_THRESHOLD) is supported


def test_grounded_prompt_numbers_the_passages_and_asks_for_citations():
    passages = [collection.Passage("Fees are due in April.", "handbook.md", section="1.1 Fees"),
                collection.Passage("Q: Parking?\nA: 30 places.", "club_pairs.jsonl", row=1, row_kind="line")]
    prompt = store.grounded_prompt(passages, "You are the club assistant.")
    assert prompt.startswith("You are the club assistant.\n\nAnswer the question using only the numbered sources")
    assert "[1] (handbook.md § 1.1 Fees)\nFees are due in April." in prompt
    assert "[2] (club_pairs.jsonl line 1)\nQ: Parking?" in prompt
    assert "no source for that" in prompt
    empty = store.grounded_prompt([], "You are the club assistant.")
    assert "[1]" not in empty and "no source for that" in empty


def test_a_follow_up_retrieves_the_right_passage_once_made_standalone(club):
    earlier = ["Tell me about the Sunday ride.", "Is it a long ride?"]
    follow_up = "What time does it start?"
    query = store.standalone_query(follow_up, earlier)
    assert query == "Tell me about the Sunday ride.\nIs it a long ride?\nWhat time does it start?"
    assert store.retrieve("club", query, k=1)[0].citation == "handbook.md § 2.1 Sunday ride"
    assert store.standalone_query(follow_up, earlier, turns=0) == follow_up


def test_cli_add_list_search_delete(copy_of_club, capsys):
    assert cli.knowledge(["add", "club", str(DATA / "notes.txt")]) == 0
    assert cli.knowledge(["list"]) == 0
    assert cli.knowledge(["search", "club", "Where is the bank account held?", "-k", "1"]) == 0
    assert cli.knowledge(["add", "club", str(DATA / "notes.txt")]) == 2
    assert cli.knowledge(["delete", "club", "notes.txt"]) == 0
    out, err = capsys.readouterr()
    assert "notes.txt: 1 passages" in out and "club: 10 passages" in out
    assert "[1] notes.txt  score" in out and "Lake Road branch" in out
    assert "already in collection 'club'" in err
    assert "Removed notes.txt (1 passages)" in out


def test_ask_without_support_answers_no_source_and_loads_no_model(club, capsys, monkeypatch):
    from studio.engines import loader

    monkeypatch.setattr(loader, "load_model", lambda *a, **k: pytest.fail("no model is needed"))
    assert cli.knowledge(["ask", "club", "What is the capital of France?"]) == 0
    assert capsys.readouterr().out.startswith("I have no source for that in club.")  # the chat's own reply


def test_ask_answers_with_a_model_and_lists_the_sources(club, tiny_models, capsys):
    question = "How much is the yearly fee for a junior?"
    assert cli.knowledge(["ask", "club", question, "--model", f"folder:{tiny_models['llama']}"]) == 0
    out = capsys.readouterr().out
    assert "\n\nSources:\n  [1] " in out and "handbook.md § 1.1 Fees" in out


def test_adding_files_reports_each_file_read_then_embedded(tmp_path, monkeypatch):
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    heard = []
    added = store.add_files("progress", [DATA / "handbook.md", DATA / "club_faq.csv"],
                            progress=lambda done, total, what: heard.append((done, total, what)))
    assert heard == [(0, 4, "Reading handbook.md"), (1, 4, "Reading club_faq.csv"),
                     (2, 4, f"Embedding handbook.md ({added['handbook.md']} passages)"),
                     (3, 4, f"Embedding club_faq.csv ({added['club_faq.csv']} passages)")]
