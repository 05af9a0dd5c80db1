import pytest

from studio.metrics import rouge


@pytest.mark.parametrize(
    "target, prediction, expected",
    [
        ("testing one two", "testing", {"rouge1": 0.5, "rouge2": 0.0, "rougeL": 0.5}),  # P=1, R=1/3 -> F=1/2
        ("the cat sat", "the cat sat", {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}),
        ("the cat sat", "a dog ran", {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}),
        ("one two three four", "one three", {"rouge1": 2 / 3, "rouge2": 0.0, "rougeL": 2 / 3}),  # P=1, R=1/2
        ("waiting periods apply", "waiting period applies", {"rouge1": 1.0}),  # stemming on
    ],
)
def test_hand_computable_scores(target, prediction, expected):
    [scores] = rouge.score([target], [prediction])
    for metric, value in expected.items():
        assert scores[metric] == pytest.approx(value)


def test_rouge_lsum_splits_sentences():
    [scores] = rouge.score(["No. It is covered after two years."], ["It is covered after two years. No."])
    assert scores["rougeLsum"] > scores["rougeL"]


def test_bootstrap_is_reproducible_with_a_seed_and_brackets_the_mean():
    items = rouge.score(["a b c d"] * 20, ["a b", "a b c d", "x y", "a"] * 5)
    first, again = rouge.aggregate(items, seed=7), rouge.aggregate(items, seed=7)
    assert first == again
    for metric in rouge.METRICS:
        assert first[metric]["low"] <= first[metric]["mean"] <= first[metric]["high"]
    assert first["rouge1"]["low"] < first["rouge1"]["high"]
    assert rouge.aggregate(items, seed=8) != first
    assert rouge.headline(first) == pytest.approx(100 * first["rougeL"]["mean"])


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="2 targets but 1 predictions"):
        rouge.score(["a", "b"], ["a"])
