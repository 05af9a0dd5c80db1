import pytest

from studio.training import rewards
from studio.training.rewards import RewardWeights

REFERENCE = "The free look period is 15 days from the date you receive the policy."  # 14 words, facts: 15 days


@pytest.mark.parametrize(
    "rouge, expected",
    [(0.0, 0.0), (4.99, 0.0), (5.0, 5.0), (7.5, 5.0), (9.99, 5.0), (10.0, 10.0), (42.5, 42.5), (100.0, 100.0)],
)
def test_piecewise_rouge_follows_the_reports_thresholds(rouge, expected):
    assert rewards.piecewise_rouge(rouge) == expected


@pytest.mark.parametrize(
    "reference, answer, ratio, expected",
    [("one two three four five six seven eight nine ten", "yes", 0.5, 1 - 1 / 5),  # wanted 5 words, has 1
     ("one two three four five six seven eight nine ten", "a b c d e", 0.5, 0.0),  # exactly long enough
     ("one two three four five six seven eight nine ten", "a b c d e f g h i j k l", 0.5, 0.0),  # longer: no penalty
     ("one two three four five six seven eight nine ten", "", 1.0, 1.0),
     ("one two three four", "a b c", 1.0, 0.25),
     ("", "anything", 0.5, 0.0)],
)
def test_length_shortfall_by_hand(reference, answer, ratio, expected):
    assert rewards.length_shortfall(reference, answer, ratio) == pytest.approx(expected)


def test_rouge_l_part_is_the_f1_of_the_longest_common_subsequence():
    # "testing one two" vs "testing": P = 1, R = 1/3, F = 1/2 (the rouge-score paper's own example)
    parts = rewards.score("testing one two", "testing", RewardWeights(length=0))
    assert parts["rouge_l"] == pytest.approx(0.5)
    assert parts["piecewise"] == pytest.approx(0.5)  # 50 on 0-100 is >= 10: kept as it is, then / 100
    assert parts["reward"] == pytest.approx(0.5)  # the reference has no key facts: facts part 0


def test_piecewise_part_floors_a_low_rouge_to_five_or_zero():
    reference = " ".join(f"w{i}" for i in range(20))
    # one shared word of 20 in the reference, one in the answer: P = 1, R = 1/20, F = 2/21 = 9.5 on 0-100 -> 5
    assert rewards.score(reference, "w3")["piecewise"] == pytest.approx(0.05)
    # 1 of 20 and 1 of 21 words: F = 1/20.5 = 4.9 -> 0
    answer = "w3 " + " ".join(f"x{i}" for i in range(20))
    assert rewards.score(reference, answer)["piecewise"] == 0.0


def test_facts_part_is_the_share_of_key_facts_stated():
    reference = "Yes. The waiting period is 30 days, and Gold Plus pays Rs. 5 lakh."
    assert rewards.fact_accuracy(reference, "Yes, 30 days; Gold Plus pays 500000 rupees.") == 1.0
    assert rewards.fact_accuracy(reference, "Yes, after 30 days.") == pytest.approx(2 / 4)
    assert rewards.fact_accuracy("Please call us.", "Sure.") is None


def test_weighted_sum_by_hand():
    weights = RewardWeights(rouge_l=2.0, piecewise=1.0, facts=3.0, length=0.5, length_ratio=1.0)
    parts = rewards.score("testing one two", "testing", weights)
    # rouge_l 0.5, piecewise 0.5, facts 0 (no key facts), length shortfall 1 - 1/3
    assert parts["reward"] == pytest.approx(2 * 0.5 + 1 * 0.5 + 3 * 0 - 0.5 * (2 / 3))


def test_a_bare_yes_cannot_beat_an_answer_that_states_the_facts():
    """The report's failure: its policy learned "yes" because short strings raised ROUGE on short references."""
    short_reference = "Yes, it is covered."
    long_reference = REFERENCE
    good = "The free look period is 15 days after you receive the policy."
    for reference in (short_reference, long_reference):
        assert rewards.score(reference, "yes")["reward"] < rewards.score(reference, good if reference is long_reference
                                                                          else "Yes, it is covered.")["reward"]
    yes, full = rewards.score(long_reference, "yes"), rewards.score(long_reference, good)
    assert yes["length"] == pytest.approx(1 - 1 / 7)  # 1 word of the 7 wanted (half of 14)
    assert full["length"] == 0.0 and full["facts"] == 1.0


def test_default_penalty_makes_yes_score_below_zero_on_a_long_reference():
    assert rewards.score(REFERENCE, "yes")["reward"] < 0


@pytest.mark.parametrize(
    "reference, answer, stated",
    [(REFERENCE, "It is 15 days.", True),  # every key fact (15 days)
     (REFERENCE, "It is 30 days.", False),
     ("Please call us.", "Please call us.", True),  # no key facts: only the reference's own words count
     ("Please call us.", "Call us, please.", False)],
)
def test_states_the_facts_decides_which_dpo_pairs_are_skipped(reference, answer, stated):
    assert rewards.states_the_facts(reference, answer) is stated


def test_score_all_pairs_references_with_answers():
    scored = rewards.score_all(["testing one two", REFERENCE], ["testing", "yes"])
    assert [round(s["rouge_l"], 3) for s in scored] == [0.5, 0.0]
    with pytest.raises(ValueError, match="2 references but 1 answers"):
        rewards.score_all(["a", "b"], ["a"])
