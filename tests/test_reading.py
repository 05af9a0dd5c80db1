"""Which retrieved passages a grounded answer reads (studio/knowledge/reading.py, store.retrieve's `spread`)."""

from __future__ import annotations

import pytest

from studio.knowledge import embeddings, reading, store
from studio.knowledge.collection import Passage


def ranked(files: str) -> list[Passage]:
    """Passages in ranking order, one letter per passage naming its file: "aab" = a, a, b."""
    return [Passage(f"passage {n}", f"{name}.txt", score=1.0 - n / 100) for n, name in enumerate(files)]


@pytest.mark.parametrize(("files", "k", "chosen"), [
    ("aaab", 3, [0, 1, 3]),      # a Q/A file fills the top: the document's best passage gets the last slot
    ("aaaaaaab", 3, [0, 1, 7]),  # however far down the candidates it stands
    ("abab", 3, [0, 1, 2]),      # already mixed: the ranking as it is
    ("aaaa", 3, [0, 1, 2]),      # one file only: nothing to spread over
    ("aaabbb", 4, [0, 1, 3, 4]),  # k=4: two slots each at most
    ("aaabc", 5, [0, 1, 2, 3, 4]),  # a, a, a: 3 = ceil(5 / 2)
    ("abc", 1, [0]),
    ("ab", 3, [0, 1]),           # fewer candidates than k
    ("", 3, []),
])
def test_no_file_takes_more_than_half_the_slots_while_another_has_a_candidate(files, k, chosen):
    passages = ranked(files)
    assert reading.spread_over_files(passages, k) == [passages[i] for i in chosen]


@pytest.mark.skipif(bool(embeddings.available()), reason=embeddings.available() or "")
def test_retrieve_spreads_the_club_collection_over_its_files(club):
    question = "How much is the yearly fee for a junior?"
    plain = store.retrieve("club", question, k=3, spread=False)
    spread = store.retrieve("club", question, k=3)
    assert plain[0] == spread[0]  # the best passage always leads
    assert max(sum(p.file == f for p in spread) for f in {p.file for p in spread}) <= 2
    assert [p.score for p in spread] == sorted((p.score for p in spread), reverse=True)
    assert store.retrieve_many("club", [question], k=3) == [spread]
