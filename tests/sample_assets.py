"""Readers of the sample data in assets/ and the text helpers its checks use (see tests/test_sample_data.py).

Loaders are cached: the files are read once per test session.
"""
from __future__ import annotations

import csv
import json
import re
import string
from functools import cache
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PLANS = ["Silver", "Gold Plus", "Platinum"]
QA_FILES = ["insurer_faq.csv", "test_detailed.csv", "test_brief.csv", "test_policy.csv", "policy_train.csv"]

DURATION_RE = re.compile(
    r"\b(\d+)((?:[\s-]+(?:consecutive|inpatient|working))*)[\s-]+(day|days|month|months|hour|hours|year|years)\b"
    r"(?!-care)")
MONEY_RE = re.compile(r"Rs\.\s?\d+(?:,\d+)*(?: (?:lakh|crore))?")
PERCENT_RE = re.compile(r"\b(\d+)%")
TERM_RE = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+")
# Words of four letters or more that say nothing about a fact.
FILLER_WORDS = set("with that this from have been were they them their which when where what than then only also such "
                   "into after before under over each both other more most some your about does will would could "
                   "should must shall".split())
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


def key_terms(text: str) -> set[str]:
    """Numbers ("12,50,000", "3.1") and lowercased words of four letters or more, without filler words."""
    return {t.lower() for t in TERM_RE.findall(text)
            if (t[0].isdigit() or len(t) >= 4) and t.lower() not in FILLER_WORDS}


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


def policy_word_count() -> int:
    """Words as a reader counts them: "Rs. 2,50,000", "e-mandate" and "claims@nilgirihealth.example" are one each."""
    return len(re.findall(r"[A-Za-z0-9]+(?:[',./&-][A-Za-z0-9]+)*", policy_markdown()))


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
    """The waiting periods that the policy states, from its Schedule of Benefits and its definitions."""
    schedule = schedule_of_benefits()

    def months(cell: str) -> int:
        return int(re.search(r"(\d+) months", cell)[1])

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
    for name in QA_FILES:
        for i, row in enumerate(rows(name), start=2):
            texts += [(f"{name}:{i}", row["question"]), (f"{name}:{i}", row["answer"])]
    for conversation in memory_bench():
        for turn in conversation["turns"]:
            texts += [(conversation["id"], turn["user"]), (conversation["id"], turn["assistant"])]
        texts += [(conversation["id"], conversation[key]) for key in ("final_question", "reference")]
    return texts


def readme_text() -> str:
    """assets/README.md with each run of whitespace made one space."""
    return " ".join((ASSETS / "README.md").read_text(encoding="utf-8").split())
