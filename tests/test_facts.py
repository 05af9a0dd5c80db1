import csv
import re
from pathlib import Path

import pytest

from studio.metrics import facts, key_facts

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def kinds_and_values(text, names=()):
    return [(fact.kind, fact.value) for fact in key_facts.extract_facts(text, names)]


@pytest.mark.parametrize(
    "text, expected",
    [
        # money: currency marks, lakh/crore, Western and Indian digit grouping
        ("Rs. 5,00,000", [("money", "Rs 500000")]),
        ("₹5,00,000 or INR 500000", [("money", "Rs 500000")]),
        ("5 lakh rupees", [("money", "Rs 500000")]),
        ("five lakh", [("money", "Rs 500000")]),
        ("Rs. 1 crore", [("money", "Rs 10000000")]),
        ("Rs. 1.5 lakh", [("money", "Rs 150000")]),
        ("Rs 1,000", [("money", "Rs 1000")]),
        ("Rs. 3 or 5 lakh", [("money", "Rs 300000"), ("money", "Rs 500000")]),
        ("Rs. 25,000, or 50,000", [("money", "Rs 25000"), ("money", "Rs 50000")]),
        # percentages
        ("50% of the sum insured", [("percent", "50%")]),
        ("fifty per cent", [("percent", "50%")]),
        # durations: hyphenated, in words, exact conversions, a unit shared by a list
        ("a 15-day waiting period", [("duration", "15 days")]),
        ("a waiting period of fifteen days", [("duration", "15 days")]),
        ("24 months", [("duration", "2 years")]),
        ("48 hours", [("duration", "2 days")]),
        ("90 minutes", [("duration", "90 minutes")]),
        ("18 months", [("duration", "18 months")]),
        ("3 working days", [("duration", "3 days")]),
        ("twenty-four hours", [("duration", "1 day")]),
        ("two hundred and fifty days", [("duration", "250 days")]),
        ("between 31 and 90 days", [("duration", "31 days"), ("duration", "90 days")]),
        # ages
        ("Adults can enrol up to age 65.", [("age", "65 years")]),
        ("until they are 25 years old", [("age", "25 years")]),
        ("from 91 days old", [("age", "91 days")]),
        ("if you are 60 or older", [("age", "60 years")]),
        ("aged 18 to 65", [("age", "18 years"), ("age", "65 years")]),
        # numbers without a unit; codes, ordinals and a reference's number words are not numbers
        ("Up to 2 deliveries.", [("number", "2")]),
        ("more than 8,500 hospitals", [("number", "8500")]),
        ("the 2nd claim under 80D", []),
        ("the longer of the two applies to an emergency one", []),
        ("Rs. 5,000 a day", [("money", "Rs 5000")]),  # "a day" in a reference is a rate, not a fact
        # phones, emails, urls
        ("Call 1800 266 4545.", [("phone", "18002664545")]),
        ("Call 1800-266-4545 or +91 98450 12345", [("phone", "18002664545"), ("phone", "9845012345")]),
        ("Call 1800 266 4545 365 days a year", [("phone", "18002664545"), ("duration", "365 days")]),
        ("Email Claims@NilgiriHealth.example today", [("email", "claims@nilgirihealth.example")]),
        ("See www.nilgirihealth.example.", [("url", "www.nilgirihealth.example")]),
        # times of day and round-the-clock
        ("from 10 AM to 8:30 p.m.", [("time", "10:00"), ("time", "20:30")]),
        ("at 14:30 or at midnight", [("time", "14:30"), ("time", "00:00")]),
        ("open 24x7", [("time", "24x7")]),
        ("open 24/7", [("time", "24x7")]),
        ("open 24 hours a day, 7 days a week", [("time", "24x7")]),
        # names
        ("It comes in three plans, Silver, Gold Plus and Platinum.",
         [("entity", "silver"), ("entity", "gold plus"), ("entity", "platinum")]),
        ("Gold Plus covers 90 days.", [("entity", "gold plus"), ("duration", "90 days")]),
        ("Silver pays Rs. 40,000 per eye.", [("money", "Rs 40000")]),  # one word starting a sentence: not a name
        ("Silver pays Rs. 40,000. Ask about Silver.", [("entity", "silver"), ("money", "Rs 40000")]),
        ("Processed by Pallava Health TPA Pvt. Ltd. in India.",
         [("entity", "pallava health tpa"), ("entity", "india")]),
        ("File it on IRDAI's Bima Bharosa portal.", [("entity", "irdai"), ("entity", "bima bharosa")]),
        ("A deduction under Section 80D.", [("entity", "section 80d")]),
        ("The Platinum plan has no limit.", [("entity", "platinum")]),  # "The" dropped, "Platinum" is a name
        ("Please Call Us.", []),  # common words are not names
        ("About Rs. 6,240 a year.", [("money", "Rs 6240")]),
        # polarity
        ("Yes. Accidents are covered.", [("polarity", "yes")]),
        ("No, hearing aids are excluded.", [("polarity", "no")]),
        ("No-claim bonus grows every year.", []),
        ("No refund is paid.", []),
        # nothing to check
        ("It depends on the hospital.", []),
        ("", []),
    ],
)
def test_extracts_each_kind(text, expected):
    assert kinds_and_values(text) == expected


def test_each_fact_keeps_the_words_it_came_from():
    [money, duration] = key_facts.extract_facts("Rs. 5,00,000 after a 15-day wait")
    assert (money.span, duration.span) == ("Rs. 5,00,000", "15-day")


def test_names_given_by_the_caller_are_found_at_a_sentence_start():
    text = "Silver pays Rs. 40,000 per eye."
    assert ("entity", "silver") in kinds_and_values(text, names=["Silver"])


@pytest.mark.parametrize(
    "reference, answer",
    [
        ("The helpline is 1800-266-4545", "Call 1800 266 4545 any time"),
        ("a waiting period of fifteen days", "15-day waiting period"),
        ("Rs. 5,00,000", "5 lakh rupees"),
        ("Rs. 5,00,000", "500000"),
        ("5 lakh rupees", "The sum insured is Rs. 5,00,000."),
        ("Pre-existing diseases are covered after 2 years.", "You wait 24 months."),
        ("Covered after 18 months.", "Covered after 1.5 years."),
        ("Platinum pays up to Rs. 2,50,000.", "Platinum pays up to ₹2.5 lakh."),
        ("Open 24x7.", "Open 24/7."),
        ("Call 1800 266 4545, which is open 24 hours a day, 7 days a week.", "Ring 18002664545, open round the clock."),
        ("Gold Plus pays up to 1,000 rupees.", "On the gold plus plan it is Rs 1000."),
        ("Adults can enrol up to age 65.", "The maximum entry age is 65 years."),
        ("Adults can enrol up to age 65.", "You can join until 65."),
        ("No. Hearing aids are excluded.", "No, they are not covered."),
        ("No. Hearing aids are excluded.", "Hearing aids are not covered on any plan."),
        ("Yes. Accidents are covered from day one.", "Accidents are covered straight away."),
        ("Open from 10 AM to 8 PM.", "Hours: 10:00 am to 8 p.m."),
        ("Email claims@nilgirihealth.example.", "Write to CLAIMS@nilgirihealth.example"),
        ("Within 1 hour of the request.", "Within an hour."),
        ("You have 1 year to complain.", "You have one year."),
        ("File it on IRDAI's Bima Bharosa portal.", "Use the Bima Bharosa portal run by IRDAI."),
    ],
)
def test_the_same_facts_in_other_words_score_1(reference, answer):
    result = facts.score(reference, answer)
    assert (result.accuracy, result.missed) == (1.0, ())


@pytest.mark.parametrize(
    "reference, answer",
    [
        ("The limit is Rs. 5 lakh.", "The limit is Rs. 3 lakh."),  # wrong number
        ("The helpline is 1800 266 4545.", "The helpline is 1800 266 4546."),  # wrong digit
        ("No. Silver has no maternity cover.", "Yes, it does."),  # wrong polarity
        ("Yes. Chemotherapy is covered.", "No, it is not covered."),
        ("Yes. Chemotherapy is covered.", "I don't know."),
        ("No. Cosmetic surgery is excluded.", "No source for that."),  # declining is not a "No"
        ("No. Cosmetic surgery is excluded.", "I have no source for that in sample-policy."),
        ("Yes. Its records must be open to the Company's inspection.", "[1] [2]"),  # citations assert nothing
        ("Within 30 days of discharge.", "Send it soon after discharge."),  # missing fact
        ("Within 30 days of discharge.", "Up to 30% of the bill."),  # right number, other unit
        ("A co-payment of 20% applies.", "Pay within 20 days."),
        ("Within 30 days of discharge.", "Within 30 months of discharge."),
        ("Within 30 days of discharge.", "Within 1 month of discharge."),  # days and months never convert
        ("Up to 2 deliveries.", "Up to Rs. 2 per delivery."),
        ("Only Gold Plus and Platinum cover maternity.", "Only Silver covers maternity."),
        ("Open from 10 AM.", "Open from 10 PM."),
        ("The limit is Rs. 5,00,000.", ""),
    ],
)
def test_wrong_or_missing_facts_score_0(reference, answer):
    result = facts.score(reference, answer)
    assert (result.found, result.accuracy) == (0, 0.0)
    assert len(result.missed) == result.total > 0


def test_partial_answers_score_the_share_of_facts_stated():
    reference = "Gold Plus pays up to Rs. 50,000 per delivery after a 24-month waiting period."
    result = facts.score(reference, "Gold Plus pays Rs. 50,000 after 9 months.")
    assert (result.found, result.total) == (2, 3)
    assert result.accuracy == pytest.approx(2 / 3)
    assert [(fact.kind, fact.value, fact.span) for fact in result.missed] == [("duration", "2 years", "24-month")]


def test_a_repeated_fact_counts_once():
    result = facts.score("30 days to pay, and 30 days to claim.", "30 days")
    assert (result.found, result.total) == (1, 1)


def test_a_reference_without_key_facts_is_not_scored():
    result = facts.score("It depends on the hospital.", "It depends.")
    assert (result.found, result.total, result.accuracy, result.missed) == (0, 0, None, ())
    summary = facts.aggregate([result, facts.score("Within 30 days.", "30 days"), facts.score("1 hour", "2 hours")])
    assert (summary["mean"], summary["scored"], summary["skipped"]) == (0.5, 2, 1)
    assert facts.aggregate([result]) == {"mean": None, "low": None, "high": None, "scored": 0, "skipped": 1}


def test_aggregate_interval_brackets_the_mean_and_is_reproducible_with_the_seed():
    scores = facts.score_all(["Within 30 days.", "Rs. 5 lakh and 20%", "No. It is excluded."] * 10,
                             ["30 days", "Rs. 5 lakh", "Yes."] * 10)
    first, again = facts.aggregate(scores, seed=7), facts.aggregate(scores, seed=7)
    assert first == again
    assert first["mean"] == pytest.approx(0.5)
    assert first["low"] <= first["mean"] <= first["high"] and first["low"] < first["high"]
    assert facts.aggregate(scores, seed=8) != first


def test_score_all_knows_names_used_in_other_references():
    references = ["Silver pays Rs. 40,000 per eye.", "Only Silver covers it."]
    [first, _] = facts.score_all(references, ["Rs. 40,000 per eye on Platinum.", "Silver"])
    assert (first.found, first.total) == (1, 2)
    assert [fact.value for fact in first.missed] == ["silver"]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: facts.score_all(["a", "b"], ["a"]), ValueError, "2 references but 1 answers"),
        (lambda: facts.score_all(["a"], [None]), TypeError, "answer 0 must be text, not NoneType"),
        (lambda: facts.score(5, "a"), TypeError, "reference must be text, not int"),
        (lambda: key_facts.extract_facts("a", names="Gold Plus"), TypeError, "names must be a list"),
    ],
)
def test_bad_input_gets_a_clear_message(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def sample_references(name):
    with open(ASSETS / name, encoding="utf-8", newline="") as file:
        return [row["answer"] for row in csv.DictReader(file)]


@pytest.mark.parametrize("name", ["test_brief.csv", "test_detailed.csv", "insurer_faq.csv"])
def test_every_sample_reference_states_its_own_facts(name):
    references = sample_references(name)
    scores = facts.score_all(references, references)
    not_one = [(ref, s.missed) for ref, s in zip(references, scores) if s.accuracy not in (None, 1.0)]
    assert not_one == []
    assert sum(s.total > 0 for s in scores) >= 0.9 * len(references)


def test_wrong_answers_to_the_sample_questions_score_low():
    references = sample_references("test_brief.csv")
    digits_changed = [re.sub(r"\d", lambda m: str((int(m.group(0)) + 1) % 10), r) for r in references]
    for answers in (references[1:] + references[:1], ["I don't know."] * len(references), digits_changed):
        assert facts.aggregate(facts.score_all(references, answers))["mean"] < 0.5
