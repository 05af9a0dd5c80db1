"""The support check of grounded answers (studio/knowledge/support.py) on real sentences of the sample policy and
FAQ, and the measures evaluation reports from it (studio/evaluation/grounded.py, studio/metrics/refusal.py)."""

from __future__ import annotations

import pytest

from studio.answer_check import UNCHECKED, CheckedAnswer, needs_another_try, needs_quote, quoted, tidy
from studio.evaluation import grounded
from studio.knowledge import support
from studio.knowledge.collection import Passage
from studio.metrics.refusal import is_refusal

ROOM_RENT = Passage("Q: Is there a limit on room rent?\nA: Yes. On Silver, room rent is limited to 1% of the sum "
                    "insured per day and ICU charges to 2% per day; Gold Plus and Platinum have no room rent limit.",
                    "insurer_faq.csv", row=41, row_kind="row")
MATERNITY = Passage("4.7 Maternity\nMaternity expenses are covered on Gold Plus and Platinum after a waiting period "
                    "of\n24 months, up to Rs. 50,000 per delivery on Gold Plus and Rs. 1,00,000 on Platinum. "
                    "Dental treatment is not covered unless it is needed because of an accident.",
                    "policy_wording.pdf", page=4, section="4.7 Maternity")
HELPLINE = Passage("Claims and cashless helpline (toll-free): 1800 266 4545, 24 hours a day, 7 days a week. Email: "
                   "claims@nilgirihealth.example", "policy_wording.md", section="9. Contact")
PASSAGES = [ROOM_RENT, MATERNITY, HELPLINE]


@pytest.mark.parametrize(("question", "answer", "supported", "missing"), [
    ("What is the room rent limit on Silver?", "On Silver, room rent is capped at 1% of the sum insured a day [1].",
     True, []),
    ("How much maternity cover is there on Platinum?", "Up to 1 lakh rupees per delivery after 2 years.", True, []),
    ("How much maternity cover is there on Platinum?", "Platinum pays up to Rs. 7.5 lakh for a delivery.", False,
     ["Rs. 7.5 lakh"]),
    ("What is the claims number?", "Call 1800-266-4545, round the clock [3].", True, []),
    ("What is the claims number?", "Call 1800 425 2255.", False, ["1800 425 2255"]),
    ("What is the waiting period for maternity?", "24 months [2]", True, []),  # a bare number found with a unit
    ("Who is the chief executive?", "The chief executive is Ramesh Iyer.", False, ["Ramesh Iyer"]),
    ("What is covered?", "[1]", False, []),  # only a citation: no answer
    ("What is covered?", "[1] (insurer_faq.csv row 41)", False, []),
    ("What is covered?", "   ", False, []),
])
def test_facts_must_stand_in_the_passages(question, answer, supported, missing):
    check = support.check(answer, question, PASSAGES)
    assert check.supported is supported, check.verdict()
    assert [f.span for f in check.missing] == missing


@pytest.mark.parametrize(("question", "answer", "supported", "unchecked"), [
    ("Is there a limit on room rent?", "Yes, on Silver it is 1% of the sum insured per day.", True, False),
    ("Is there a limit on room rent?", "No, there is no limit.", False, False),  # the Q/A row asks it and says Yes
    ("Is there a room rent limit on Platinum?", "No.", True, True),  # the row asks about Silver's limit: not judged
    # a document sentence states no yes or no outright: not judged, shown as what the answer rests on
    ("Is dental treatment covered?", "No, only when an accident makes it necessary.", True, True),
    ("Is dental treatment covered?", "Yes, dental treatment is covered.", True, True),
])
def test_a_yes_or_no_is_judged_against_a_row_that_states_one(question, answer, supported, unchecked):
    check = support.check(answer, question, PASSAGES)
    assert check.supported is supported, check.verdict()
    assert check.contradicts is not supported and check.unchecked_polarity is unchecked
    if unchecked:
        assert check.verdict().endswith("its yes or no is not stated as such: read the sentence shown")
    if question.startswith("Is dental"):
        assert check.used[1] == ["Dental treatment is not covered unless it is needed because of an accident."]


def test_a_refusal_is_no_supported_answer_and_stands():
    refusal = CheckedAnswer("I have no source for that.", support.check("I have no source for that.",
                                                                        "What is covered?", PASSAGES))
    assert refusal.check.refused and not refusal.check.supported
    assert refusal.check.verdict() == "no answer in the sources"
    assert not needs_another_try(refusal, "auto") and not needs_quote(refusal, "auto")


def test_sentences_keep_abbreviations_headings_and_joined_lines():
    found = support.sentences(MATERNITY.text)
    assert found == ["4.7 Maternity",
                     "Maternity expenses are covered on Gold Plus and Platinum after a waiting period of 24 months, "
                     "up to Rs. 50,000 per delivery on Gold Plus and Rs. 1,00,000 on Platinum.",
                     "Dental treatment is not covered unless it is needed because of an accident."]
    assert support.answer_text(ROOM_RENT).startswith("Yes. On Silver")  # a Q/A row: its answer only


def test_used_sentences_are_the_ones_stating_the_facts():
    check = support.check("Up to Rs. 50,000 per delivery on Gold Plus [2].", "Maternity limit on Gold Plus?", PASSAGES)
    assert list(check.used) == [1] and "Rs. 50,000 per delivery" in check.used[1][0]


def test_the_quote_cites_its_source_and_is_supported():
    answer = quoted("Which number do I call for a claim at night?", PASSAGES)
    assert answer.text.startswith("From policy_wording.md § 9. Contact: Claims and cashless helpline")
    assert answer.check.supported and answer.how == "quote"


@pytest.mark.parametrize(("answer", "style", "again", "quote"), [
    ("[1]", "generate", False, True), ("[1]", "auto", True, True),  # only a citation: never shown as an answer
    ("Rs. 7.5 lakh.", "auto", True, True), ("Rs. 7.5 lakh.", "generate", False, False),
    ("Rs. 50,000 per delivery.", "auto", False, False),
])
def test_which_answers_are_asked_again_or_quoted(answer, style, again, quote):
    checked = CheckedAnswer(answer, support.check(answer, "How much maternity cover?", PASSAGES))
    assert needs_another_try(checked, style) is again and needs_quote(checked, style) is quote


def test_a_quote_that_replaces_an_answer_says_it_is_evidence_and_counts_as_declining():
    answer = quoted("Which number do I call for a claim at night?", PASSAGES, fallback=True)
    assert answer.text.startswith(UNCHECKED + "From policy_wording.md § 9. Contact: Claims and cashless helpline")
    assert answer.check.supported and is_refusal(answer.text)


def test_the_retry_prompt_puts_the_key_sentences_first():
    prompt = support.retry_prompt("Which number do I call for a claim at night?", PASSAGES, "Be brief.")
    assert prompt.startswith("Be brief.\n\n" + support.RETRY_INSTRUCTIONS)
    key, sources = prompt.split("Key sentences:\n", 1)[1].split("\n\nSources:\n\n")
    assert "1800 266 4545" in key and sources.startswith("[1] Q: Is there a limit")


@pytest.mark.parametrize(("answer", "refused"), [
    ("I have no source for that in sample-policy.", True),
    ("The sources do not mention a premium for that age.", True),
    ("I don't know.", True),
    ("The provided documents don't contain information about vaccinations.", True),
    ("Dental treatment is not covered.", False),
    ("No, there is no room rent limit on Platinum.", False),
])
def test_refusals(answer, refused):
    assert is_refusal(answer) is refused


def test_citation_precision_counts_cited_sources_holding_a_used_sentence():
    good = CheckedAnswer("Up to Rs. 50,000 per delivery [2].", support.check(
        "Up to Rs. 50,000 per delivery [2].", "Maternity limit?", PASSAGES))
    assert grounded.citation_precision(good, PASSAGES) == 1.0
    wrong = CheckedAnswer("Up to Rs. 50,000 per delivery [1][2].", support.check(
        "Up to Rs. 50,000 per delivery [1][2].", "Maternity limit?", PASSAGES))
    assert grounded.citation_precision(wrong, PASSAGES) == 0.5  # [1] (the room rent row) states none of it
    nothing = CheckedAnswer("Sure.", support.check("Sure.", "Hello?", PASSAGES))
    assert grounded.citation_precision(nothing, PASSAGES) is None


def test_the_summary_has_intervals_and_counts():
    rows = [{"faithfulness": 1.0, "unsupported": False, "refused": False, "answered_by": "model"},
            {"faithfulness": 0.5, "unsupported": True, "refused": False, "answered_by": "quote"},
            {"faithfulness": None, "unsupported": False, "refused": True, "answered_by": "retry"}]
    found = grounded.summary(rows)
    assert found["faithfulness"]["mean"] == 0.75 and found["faithfulness"]["n"] == 2
    assert found["unsupported"]["mean"] == pytest.approx(1 / 3) and found["refused"]["n"] == 3
    assert found["citation_precision"]["mean"] is None
    assert found["answered_by"] == {"model": 1, "retry": 1, "quote": 1}


@pytest.mark.parametrize(("answer", "unfounded"), [
    ("I am happy to help you with that question today.", True),  # no fact, no word of the sources
    ("Sure thing.", True),
    ("No, only after an accident.", False),  # not a yes/no question here, but "accident" stands in the sources
    ("Maternity expenses are covered on Gold Plus and Platinum.", False),
])
def test_an_answer_without_facts_must_share_its_words_with_the_sources(answer, unfounded):
    check = support.check(answer, "What does the policy say?", PASSAGES)
    assert check.unfounded is unfounded and check.supported is not unfounded


@pytest.mark.parametrize(("reply", "shown"), [
    ("[1] (insurer_faq.csv row 232) Q: How do I find a network hospital near me? A: Use the hospital search on "
     "www.nilgirihealth.example.", "Use the hospital search on www.nilgirihealth.example. [1]"),
    ("[1] (insurer_faq.csv row 232) Q: How do I find a network hospital? A: Call 1800 266 4545.  [2] "
     "(insurer_faq.csv row 391) Q: Where are hospitals listed? A: On the website.", "Call 1800 266 4545. [1]"),
    ("[2] (policy_wording.pdf p. 4 § 4.7 Maternity)\nMaternity is covered after 24 months.",
     "Maternity is covered after 24 months. [2]"),
    ("[1] (insurer_faq.csv row 41)", "[1] (insurer_faq.csv row 41)"),  # only the header: the check rejects it
    ("Room rent is capped at 1% [1] (insurer_faq.csv row 41).", "Room rent is capped at 1% [1] (insurer_faq.csv row 41)."),
    ("Yes. Q: and A: stay when no header was copied.", "Yes. Q: and A: stay when no header was copied."),
])
def test_a_copied_source_header_is_cut_from_the_answer(reply, shown):
    assert tidy(reply) == shown


AMBULANCE = Passage("4.5 Road and air ambulance\nRoad ambulance to a hospital is paid up to Rs. 2,000 per "
                    "hospitalisation on Silver, Rs. 5,000 on Gold Plus and Rs. 10,000 on Platinum. Air ambulance is "
                    "covered on Platinum only, up to Rs. 2,50,000 per policy year.", "policy_wording.pdf", page=4,
                    section="4.5 Road and air ambulance")


@pytest.mark.parametrize(("question", "answer", "asked", "said"), [
    # facts of the sources, carried to the plan the question did not ask about: rejected
    ("How much does the policy pay for a road ambulance on Platinum?",
     "Silver pays up to Rs. 2,000 per hospitalisation for a road ambulance.", ["Platinum"], ["Silver"]),
    ("What is the road ambulance limit on Gold Plus?", "On Platinum it is Rs. 10,000.", ["Gold", "Plus"],
     ["Platinum"]),
    # the asked plan named (with others), no plan named, no plan asked, or a yes/no question: not judged
    ("How much does the policy pay for a road ambulance on Platinum?", "Rs. 10,000 on Platinum [1].", [], []),
    ("How much does the policy pay for a road ambulance on Platinum?", "Up to Rs. 10,000 per hospitalisation.",
     [], []),
    ("How much does the policy pay for a road ambulance?", "Silver pays up to Rs. 2,000.", [], []),
    ("Does Silver pay for an air ambulance?", "No. Only Platinum covers it, up to Rs. 2,50,000.", [], []),
    ("If I have Platinum, what does an air ambulance cost me?", "Platinum covers up to Rs. 2,50,000.", [], []),
])
def test_an_answer_about_another_plan_than_asked_is_not_supported(question, answer, asked, said):
    result = support.check(answer, question, [AMBULANCE])
    assert (result.asked_about, result.other_subject) == (asked, said)
    assert result.supported == (not said)
    if said:
        assert result.verdict() == f"asked about {' '.join(asked)}, answers about {' '.join(said)}"
