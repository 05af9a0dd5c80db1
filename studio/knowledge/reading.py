"""Which of the retrieved candidates a grounded answer reads (bench/passage_choice.py measures this against other
ways of choosing, on a mixed FAQ + PDF collection)."""

from __future__ import annotations

from studio.knowledge.collection import Passage


def spread_over_files(passages: list[Passage], k: int) -> list[Passage]:
    """The best `k` in ranking order, but no file takes more than half the slots (rounded up) while another file
    has a candidate left: short Q/A rows that echo the question's words would otherwise push every document
    passage out of a mixed collection's top 3 (bench/passage_choice.py)."""
    cap, chosen = max(1, -(-k // 2)), []
    for p in passages:
        if len(chosen) == k:
            break
        if sum(q.file == p.file for q in chosen) < cap:
            chosen.append(p)
    chosen += [p for p in passages if p not in chosen][:k - len(chosen)]  # one file only: the cap lifts
    return sorted(chosen, key=passages.index)
