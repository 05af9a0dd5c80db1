"""Consistency checks of the sample data in assets/.

The shipped files are the source of truth (assets/README.md says why): these tests keep them consistent with
each other. The policy wording is the authority for facts; its Schedule of Benefits table and definitions give
the waiting periods that the other files must state.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import re
from collections import Counter

import pytest

from tests.sample_assets import (
    ASSETS,
    PLANS,
    QA_FILES,
    durations_in,
    jaccard,
    key_terms,
    memory_bench,
    normalise_question,
    pdf_pages,
    policy_markdown,
    policy_sections,
    policy_word_count,
    qa_texts,
    quantities_in,
    readme_text,
    rows,
    sentences,
    waiting_periods,
    words,
)

QA_COLUMNS = ["question", "answer", "topic"]
POLICY_QUESTION_COLUMNS = ["question", "answer", "source_section", "source_page"]
TEST_SETS = ["test_detailed.csv", "test_brief.csv", "test_policy.csv"]
MAX_TEST_TRAIN_JACCARD = 0.625  # word overlap of a test question with its nearest training question (README)
# Figures in the FAQ that the policy wording does not state, each with where it comes from.
FAQ_FIGURES_NOT_IN_POLICY = {
    "Rs. 3,000": "Silver room rent a day on Rs. 3 lakh (1% of the sum insured)",
    "Rs. 6,000": "Silver ICU a day on Rs. 3 lakh (2% of the sum insured)",
    "Rs. 80,000": "what we pay of a Rs. 1,00,000 claim after a 20% co-payment",
    "Rs. 5,00,000": "the modern-treatment limit on Rs. 10 lakh (50% of the sum insured)",
    "40 years": "a customer's age in a question",
}


# ---------------------------------------------------------------------------------------------------------------
# Tests of the helpers (so that the checks below can fail)
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("a 24-month wait, then 3 working days", ["24 months", "3 working days"]),
    ("at least 24 consecutive inpatient hours", ["24 hours"]),
    ("within 1 year, or 540 day-care procedures", ["1 years"]),
    ("no duration here: Rs. 5,000 and 20%", []),
])
def test_durations_are_normalised(text, expected):
    assert durations_in(text) == expected


@pytest.mark.parametrize("a, b, expected", [
    ("Is maternity covered?", "is MATERNITY covered", 1.0),
    ("testing one two", "testing", 1 / 3),
    ("a b", "c d", 0.0),
])
def test_jaccard_word_overlap(a, b, expected):
    assert jaccard(a, b) == pytest.approx(expected)


def test_sentences_ignore_abbreviation_dots():
    assert len(sentences("Yes. Pay Rs. 5,000 to Nilgiri Health Insurance Ltd. within 30 days. Done.")) == 3


# ---------------------------------------------------------------------------------------------------------------
# File format and sizes
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, columns", [
    ("insurer_faq.csv", QA_COLUMNS), ("test_detailed.csv", QA_COLUMNS), ("test_brief.csv", QA_COLUMNS),
    ("test_policy.csv", POLICY_QUESTION_COLUMNS), ("policy_train.csv", QA_COLUMNS),
])
def test_csv_is_utf8_minimally_quoted_one_record_per_line(name, columns):
    raw = (ASSETS / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    table = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert table[0] == columns
    assert all(len(record) == len(columns) and all(cell.strip() for cell in record) for record in table)
    assert len(table) == raw.count(b"\n"), "a field spans lines"
    rewritten = io.StringIO()
    csv.writer(rewritten, lineterminator="\n").writerows(table)
    assert rewritten.getvalue() == raw.decode("utf-8"), "written as Python's csv module writes it"


@pytest.mark.parametrize("name, low, high", [("insurer_faq.csv", 320, 1000), ("test_detailed.csv", 20, 30),
                                             ("test_brief.csv", 30, 40), ("test_policy.csv", 20, 40),
                                             ("policy_train.csv", 50, 80)])
def test_file_sizes(name, low, high):
    assert low <= len(rows(name)) <= high


def test_memory_bench_has_the_documented_fields():
    assert len(memory_bench()) >= 24
    for conversation in memory_bench():
        assert set(conversation) == {"id", "turns", "final_question", "reference", "needed_fact"}
        assert all(set(turn) == {"user", "assistant"} for turn in conversation["turns"])
    assert len({c["id"] for c in memory_bench()}) == len(memory_bench())


def test_readme_states_the_current_sizes():
    readme = readme_text()
    faq_topics = {row["topic"] for row in rows("insurer_faq.csv")}
    exchanges = sum(len(c["turns"]) for c in memory_bench())
    for statement in [f"| {len(rows('insurer_faq.csv'))} rows, {len(faq_topics)} topics |",
                      f"| {len(rows('test_detailed.csv'))} rows |", f"| {len(rows('test_brief.csv'))} rows |",
                      f"| {len(rows('test_policy.csv'))} rows |", f"| {policy_word_count():,} words |",
                      f"| {len(rows('policy_train.csv'))} rows |",
                      f"| {len(memory_bench())} conversations, {exchanges} earlier exchanges |",
                      f"FAQ topics: {', '.join(sorted(faq_topics))}."]:
        assert statement in readme


# ---------------------------------------------------------------------------------------------------------------
# Questions: no repeats, no test question copied from training, test topics taught
# ---------------------------------------------------------------------------------------------------------------

def test_no_question_repeats_in_any_file():
    seen: dict[str, str] = {}
    for name in QA_FILES:
        for row in rows(name):
            key = normalise_question(row["question"])
            assert key not in seen, f"{name} repeats a question of {seen.get(key)}: {row['question']!r}"
            seen[key] = name


@pytest.mark.parametrize("name", [*TEST_SETS, "test_unanswerable.csv"])
def test_test_questions_are_not_near_copies_of_training_questions(name):
    training = [row["question"] for row in rows("insurer_faq.csv") + rows("policy_train.csv")]
    for row in rows(name):
        nearest = max(training, key=lambda t: jaccard(row["question"], t))
        assert jaccard(row["question"], nearest) <= MAX_TEST_TRAIN_JACCARD, (row["question"], nearest)
    assert f"nearest training question is at most {MAX_TEST_TRAIN_JACCARD}" in readme_text()


@pytest.mark.parametrize("name", ["test_detailed.csv", "test_brief.csv"])
def test_every_test_topic_is_taught_in_the_faq(name):
    faq_topics = {row["topic"] for row in rows("insurer_faq.csv")}
    assert {row["topic"] for row in rows(name)} <= faq_topics


@pytest.mark.parametrize("name, low, high", [("insurer_faq.csv", 1, 4), ("test_detailed.csv", 3, 6)])
def test_answer_lengths_match_the_files_style(name, low, high):
    for row in rows(name):
        assert low <= len(sentences(row["answer"])) <= high, row["question"]


def test_brief_answers_are_one_sentence_or_yes_no_plus_one():
    for row in rows("test_brief.csv"):
        parts = sentences(row["answer"])
        assert len(parts) == 1 or (len(parts) == 2 and parts[0] in ("Yes.", "No.")), row["question"]


# ---------------------------------------------------------------------------------------------------------------
# Facts agree across files
# ---------------------------------------------------------------------------------------------------------------

def test_faq_figures_are_stated_in_the_policy():
    stated = quantities_in(policy_markdown())
    faq_text = " ".join(row["question"] + " " + row["answer"] for row in rows("insurer_faq.csv"))
    assert quantities_in(faq_text) - stated == set(FAQ_FIGURES_NOT_IN_POLICY)


def test_figures_in_test_sets_and_memory_bench_are_in_the_faq_or_the_policy():
    faq_text = " ".join(row["question"] + " " + row["answer"] for row in rows("insurer_faq.csv"))
    known = quantities_in(policy_markdown()) | quantities_in(faq_text)
    for where, text in qa_texts():
        if not where.startswith("insurer_faq.csv"):
            assert quantities_in(text) <= known, (where, text)


def test_no_leftover_or_broken_text():
    for where, text in qa_texts() + [("policy_wording.md", policy_markdown())]:
        assert not re.search(r"(?<!\.)\.\.(?!\.)", text), f"doubled full stop in {where}"
        for bad in ("TODO", "lorem", "ipsum", "placeholder", "{", "}", "None", " ,", " ."):
            assert bad.lower() not in text.lower(), f"{where} contains {bad!r}: {text[:90]!r}"
        assert where == "policy_wording.md" or "  " not in text, f"double space in {where}"


def test_waiting_period_answers_use_only_the_policys_waiting_periods():
    periods = waiting_periods()
    allowed = {periods[key] for key in ("initial", "specific", "maternity", "pre_existing_lookback", "moratorium",
                                        "hospitalisation")} | set(periods["pre_existing"].values())
    checked = 0
    for name in ["insurer_faq.csv", "test_detailed.csv", "test_brief.csv"]:
        for row in rows(name):
            if row["topic"] in ("waiting_periods", "specific_illnesses"):
                checked += 1
                assert set(durations_in(row["answer"])) <= allowed, (name, row["answer"])
    assert checked >= 20


def test_sentences_about_maternity_or_pre_existing_diseases_state_the_right_months():
    periods = waiting_periods()
    pre_existing_ok = set(periods["pre_existing"].values()) | {periods["pre_existing_lookback"], periods["moratorium"]}
    for where, text in qa_texts() + [("policy_wording.md", policy_markdown())]:
        for sentence in sentences(text):
            lower = sentence.lower()
            months = [d for d in durations_in(sentence) if d.endswith("months")]
            if "maternity" in lower and "pre-existing" not in lower:
                assert set(months) <= {periods["maternity"]}, (where, sentence)
            if "pre-existing" in lower and "specific" not in lower and "maternity" not in lower:
                assert set(months) <= pre_existing_ok, (where, sentence)
            plans_named = [plan for plan in PLANS if plan in sentence]
            if "pre-existing" in lower and len(plans_named) == 1 and months:
                assert periods["pre_existing"][plans_named[0]] in months, (where, sentence)


# ---------------------------------------------------------------------------------------------------------------
# Memory benchmark
# ---------------------------------------------------------------------------------------------------------------

def test_needed_fact_is_in_exactly_one_earlier_exchange_and_not_in_the_final_question():
    positions = Counter()
    for conversation in memory_bench():
        turns, fact = conversation["turns"], conversation["needed_fact"]
        assert 2 <= len(turns) <= 5, conversation["id"]
        hits = [i for i, t in enumerate(turns) if fact.lower() in (t["user"] + " " + t["assistant"]).lower()]
        assert len(hits) == 1, f"{conversation['id']}: {fact!r} in exchanges {hits}"
        assert fact in turns[hits[0]]["user"] or fact in turns[hits[0]]["assistant"], "exact case"
        assert fact.lower() not in conversation["final_question"].lower(), conversation["id"]
        positions["first" if hits[0] == 0 else "last" if hits[0] == len(turns) - 1 else "middle"] += 1
    assert positions["first"] >= len(memory_bench()) / 2, "a short window memory must lose most needed facts"
    assert positions["last"] >= 3
    assert (f"first exchange in {positions['first']} conversations (a short window memory loses it), in a middle "
            f"exchange in {positions['middle']}, and in the last exchange in {positions['last']}.") in readme_text()


# ---------------------------------------------------------------------------------------------------------------
# Policy wording: Markdown and PDF
# ---------------------------------------------------------------------------------------------------------------

def test_policy_wording_length_and_pdf_safe_characters():
    markdown = policy_markdown()
    assert 2500 <= policy_word_count() <= 5000
    markdown.encode("latin-1")  # the PDF's core font shows only Latin-1
    prose = "\n".join(line for line in markdown.split("\n") if not re.fullmatch(r"\|( --- \|)+", line))
    for markup in ("--", "__", "~~"):
        assert markup not in prose, f"the PDF renderer would read {markup!r} as markup"


def test_pdf_text_layer_says_what_the_markdown_says():
    in_pdf, in_markdown = Counter(words(" ".join(pdf_pages()))), Counter(words(policy_markdown()))
    assert in_markdown - in_pdf == Counter(), "words of the Markdown missing from the PDF"
    table_headers = {word for line in policy_markdown().split("\n\n") if line.startswith("| ")
                     for word in words(line.split("\n")[0])}
    assert set(in_pdf - in_markdown) <= table_headers, "only table headers repeat (on a new page)"


def test_every_section_heading_is_in_the_pdf_in_order():
    page_of_previous_heading = 0
    for heading in policy_sections():
        later_pages = [i for i, text in enumerate(pdf_pages()) if heading in text and i >= page_of_previous_heading]
        assert later_pages, f"{heading!r} is not in the PDF after the heading before it"
        page_of_previous_heading = later_pages[0]


def test_rendering_the_markdown_gives_the_shipped_pdf_text(tmp_path):
    pytest.importorskip("fpdf")
    pypdf = pytest.importorskip("pypdf")
    spec = importlib.util.spec_from_file_location("make_policy_pdf", ASSETS / "make_policy_pdf.py")
    renderer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(renderer)

    renderer.render_pdf(renderer.markdown_blocks(policy_markdown()), tmp_path / "policy.pdf")
    rendered = [page.extract_text() for page in pypdf.PdfReader(tmp_path / "policy.pdf").pages]
    shipped = [page.extract_text() for page in pypdf.PdfReader(ASSETS / "policy_wording.pdf").pages]
    assert rendered == shipped


# ---------------------------------------------------------------------------------------------------------------
# test_policy.csv: questions answered only by the policy wording, with the section and PDF page of the answer
# ---------------------------------------------------------------------------------------------------------------

def answer_terms_in_section(row: dict) -> set[str]:
    """The answer's numbers and words that its source section states: what a retriever has to find."""
    return key_terms(row["answer"]) & key_terms(policy_sections()[row["source_section"]])


def test_policy_questions_name_a_real_section_and_page_and_spread_over_the_document():
    questions = rows("test_policy.csv")
    for row in questions:
        assert row["source_section"] in policy_sections(), row["source_section"]
        assert 1 <= int(row["source_page"]) <= len(pdf_pages()), row["source_page"]
    assert len({row["source_section"] for row in questions}) >= 10
    assert len({row["source_page"] for row in questions}) >= 6


def test_policy_answers_are_short_and_stated_in_their_section():
    for row in rows("test_policy.csv"):
        assert len(sentences(row["answer"])) <= 2, row["answer"]
        answer, grounded = key_terms(row["answer"]), answer_terms_in_section(row)
        numbers = {term for term in answer if term[0].isdigit()}
        assert numbers <= grounded, f"{row['question']!r}: {numbers - grounded} not in {row['source_section']!r}"
        assert len(grounded) >= 0.75 * len(answer), f"{row['question']!r}: {answer - grounded} not in the section"


def test_policy_answers_are_on_their_pdf_page():
    for row in rows("test_policy.csv"):
        page = key_terms(pdf_pages()[int(row["source_page"]) - 1])
        assert answer_terms_in_section(row) <= page, (row["question"], answer_terms_in_section(row) - page)


def test_no_faq_row_states_a_policy_answer():
    faq_terms = [key_terms(r["question"] + " " + r["answer"]) for r in rows("insurer_faq.csv")]
    for row in rows("test_policy.csv"):
        needed = answer_terms_in_section(row)
        assert needed, row["question"]
        stating = [i + 2 for i, terms in enumerate(faq_terms) if needed <= terms]
        assert not stating, f"insurer_faq.csv line {stating} states the answer to {row['question']!r}"
