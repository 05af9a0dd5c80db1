"""Consistency checks of the sample data in assets/.

The shipped files are the source of truth (assets/README.md says why): these tests keep them consistent with
each other. The policy wording is the authority for facts; its Schedule of Benefits table and definitions give
the waiting periods that the other files must state.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import string
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parent.parent / "assets"
QA_COLUMNS = ["question", "answer", "topic"]
POLICY_QUESTION_COLUMNS = ["question", "answer", "source_section", "source_page"]
TEST_SETS = ["test_detailed.csv", "test_brief.csv"]
MAX_TEST_TRAIN_JACCARD = 0.625  # word overlap of a test question with its nearest training question (README)
PLANS = ["Silver", "Gold Plus", "Platinum"]
# Figures in the FAQ that the policy wording does not state, each with where it comes from.
FAQ_FIGURES_NOT_IN_POLICY = {
    "Rs. 3,000": "Silver room rent a day on Rs. 3 lakh (1% of the sum insured)",
    "Rs. 6,000": "Silver ICU a day on Rs. 3 lakh (2% of the sum insured)",
    "Rs. 80,000": "what we pay of a Rs. 1,00,000 claim after a 20% co-payment",
    "Rs. 5,00,000": "the modern-treatment limit on Rs. 10 lakh (50% of the sum insured)",
    "40 years": "a customer's age in a question",
}

DURATION_RE = re.compile(
    r"\b(\d+)((?:[\s-]+(?:consecutive|inpatient|working))*)[\s-]+(day|days|month|months|hour|hours|year|years)\b"
    r"(?!-care)")
MONEY_RE = re.compile(r"Rs\.\s?\d+(?:,\d+)*(?: (?:lakh|crore))?")
PERCENT_RE = re.compile(r"\b(\d+)%")
LOOKBACK_RE = r"within (\d+) months before the start of the first policy"
MORATORIUM_RE = r"\*\*Moratorium period\*\*: After (\d+) months"
HOSPITALISATION_RE = r"at least (\d+) consecutive inpatient hours"


# ---------------------------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------------------------

def durations_in(text: str) -> list[str]:
    """"a 24-month wait, 3 working days" -> ["24 months", "3 working days"]."""
    found = []
    for number, modifiers, unit in DURATION_RE.findall(text):
        unit = unit if unit.endswith("s") else unit + "s"
        found.append(f"{number} working {unit}" if "working" in modifiers else f"{number} {unit}")
    return found


def quantities_in(text: str) -> set[str]:
    """Durations, rupee amounts and percentages, normalised ("24-month" -> "24 months")."""
    return set(durations_in(text)) | set(MONEY_RE.findall(text)) | {f"{p}%" for p in PERCENT_RE.findall(text)}


def normalise_question(question: str) -> str:
    question = question.lower().translate(str.maketrans({c: " " for c in string.punctuation}))
    return " ".join(question.split())


def jaccard(a: str, b: str) -> float:
    words_a, words_b = set(normalise_question(a).split()), set(normalise_question(b).split())
    return len(words_a & words_b) / len(words_a | words_b) if words_a | words_b else 0.0


def sentences(text: str) -> list[str]:
    protected = re.sub(r"\b(Rs|Pvt|Ltd|e\.g|i\.e)\. ", lambda m: m.group(1) + "<DOT> ", text)
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", protected) if s.strip()]


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", text)


# ---------------------------------------------------------------------------------------------------------------
# The shipped files
# ---------------------------------------------------------------------------------------------------------------

@cache
def rows(name: str) -> tuple[dict, ...]:
    with open(ASSETS / name, encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


@cache
def memory_bench() -> tuple[dict, ...]:
    lines = (ASSETS / "memory_bench.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines)


@cache
def policy_markdown() -> str:
    return (ASSETS / "policy_wording.md").read_text(encoding="utf-8")


@cache
def policy_sections() -> dict[str, str]:
    """Heading text (without the #'s) -> the Markdown under it, up to the next heading of any level."""
    sections, heading = {}, None
    for line in policy_markdown().split("\n"):
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            sections[heading] = ""
        elif heading is not None:
            sections[heading] += line + "\n"
    return sections


@cache
def schedule_of_benefits() -> dict[str, dict[str, str]]:
    """The policy's Schedule of Benefits table: benefit -> {plan: cell}."""
    lines = [line for line in policy_sections()["16. Schedule of Benefits"].split("\n") if line.startswith("|")]
    header, *body = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return {cells[0]: dict(zip(header[1:], cells[1:])) for cells in body if not cells[0].startswith("---")}


def policy_number(pattern: str) -> int:
    match = re.search(pattern, policy_markdown())
    assert match, f"policy_wording.md no longer says {pattern!r}"
    return int(match[1])


@cache
def waiting_periods() -> dict:
    schedule = schedule_of_benefits()
    months = lambda cell: int(re.search(r"(\d+) months", cell)[1])  # noqa: E731
    return {
        "initial": f"{int(schedule['Initial waiting period']['Silver'].split()[0])} days",
        "specific": f"{months(schedule['Specific illness waiting period']['Silver'])} months",
        "maternity": f"{months(schedule['Maternity (per delivery)']['Gold Plus'])} months",
        "pre_existing": {plan: f"{months(schedule['Pre-existing disease waiting period'][plan])} months"
                         for plan in PLANS},
        "pre_existing_lookback": f"{policy_number(LOOKBACK_RE)} months",
        "moratorium": f"{policy_number(MORATORIUM_RE)} months",
        "hospitalisation": f"{policy_number(HOSPITALISATION_RE)} hours",
    }


@cache
def pdf_pages() -> tuple[str, ...]:
    """Text of each page of policy_wording.pdf, without the running header and the page footer."""
    pypdf = pytest.importorskip("pypdf")
    pages = []
    for page in pypdf.PdfReader(ASSETS / "policy_wording.pdf").pages:
        lines = [line for line in page.extract_text().split("\n")
                 if not re.fullmatch(r"Page \d+ of \d+", line.strip())
                 and not line.endswith("Policy Wording (fictional)")]
        pages.append(" ".join(" ".join(lines).split()))
    return tuple(pages)


def qa_texts() -> list[tuple[str, str]]:
    """(where, text) for every question, answer and memory-bench turn."""
    texts = []
    for name in ["insurer_faq.csv"] + TEST_SETS:
        for i, row in enumerate(rows(name), start=2):
            texts += [(f"{name}:{i}", row["question"]), (f"{name}:{i}", row["answer"])]
    for conversation in memory_bench():
        for turn in conversation["turns"]:
            texts += [(conversation["id"], turn["user"]), (conversation["id"], turn["assistant"])]
        texts += [(conversation["id"], conversation["final_question"]), (conversation["id"], conversation["reference"])]
    return texts


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

@pytest.mark.parametrize("name, columns", [("insurer_faq.csv", QA_COLUMNS), ("test_detailed.csv", QA_COLUMNS),
                                           ("test_brief.csv", QA_COLUMNS)])
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
                                             ("test_brief.csv", 30, 40)])
def test_file_sizes(name, low, high):
    assert low <= len(rows(name)) <= high


def test_memory_bench_has_the_documented_fields():
    assert len(memory_bench()) >= 24
    for conversation in memory_bench():
        assert set(conversation) == {"id", "turns", "final_question", "reference", "needed_fact"}
        assert all(set(turn) == {"user", "assistant"} for turn in conversation["turns"])
    assert len({c["id"] for c in memory_bench()}) == len(memory_bench())


def readme_text() -> str:
    """assets/README.md with each run of whitespace made one space."""
    return " ".join((ASSETS / "README.md").read_text(encoding="utf-8").split())


def test_readme_states_the_current_sizes():
    readme = readme_text()
    faq_topics = {row["topic"] for row in rows("insurer_faq.csv")}
    exchanges = sum(len(c["turns"]) for c in memory_bench())
    policy_words = len(re.findall(r"[A-Za-z0-9]+(?:[',./&-][A-Za-z0-9]+)*", policy_markdown()))
    for statement in [f"| {len(rows('insurer_faq.csv'))} rows, {len(faq_topics)} topics |",
                      f"| {len(rows('test_detailed.csv'))} rows |", f"| {len(rows('test_brief.csv'))} rows |",
                      f"| {policy_words:,} words |",
                      f"| {len(memory_bench())} conversations, {exchanges} earlier exchanges |",
                      f"FAQ topics: {', '.join(sorted(faq_topics))}."]:
        assert statement in readme


# ---------------------------------------------------------------------------------------------------------------
# Questions: no repeats, no test question copied from training, test topics taught
# ---------------------------------------------------------------------------------------------------------------

def test_no_question_repeats_in_any_file():
    seen: dict[str, str] = {}
    for name in ["insurer_faq.csv"] + TEST_SETS:
        for row in rows(name):
            key = normalise_question(row["question"])
            assert key not in seen, f"{name} repeats a question of {seen.get(key)}: {row['question']!r}"
            seen[key] = name


@pytest.mark.parametrize("name", TEST_SETS)
def test_test_questions_are_not_near_copies_of_training_questions(name):
    training = [row["question"] for row in rows("insurer_faq.csv")]
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
    assert 2500 <= len(re.findall(r"[A-Za-z0-9]+(?:[',./&-][A-Za-z0-9]+)*", markdown)) <= 5000
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
    pages = pdf_pages()
    last_page = 0
    for heading in policy_sections():
        on_pages = [i for i, text in enumerate(pages) if heading in text]
        assert on_pages and on_pages[-1] >= last_page, heading
        last_page = max(p for p in on_pages if p >= last_page)


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
