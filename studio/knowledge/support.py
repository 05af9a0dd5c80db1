"""Is an answer supported by the passages it was given? A check without a judge model, and the answer to give
when it is not.

`check(answer, question, passages)`:
- An empty reply, or one that is nothing but citations ("[1]", "[1] (file § section)"), is no answer.
- Every key fact of the answer (amounts, numbers with units, durations, percentages, phone numbers, emails, times
  and names, read by studio/metrics/key_facts.py) must be stated by the passages, compared after normalising
  ("Rs. 15,000" = "15000 rupees", "2 years" = "24 months"); a bare number in the answer is found when the
  passages hold that number with any unit. Citation markers are not facts.
- An answer without key facts must share its words with a passage sentence (at least half of them), unless it
  is a yes or no checked against the sources (below).
- The answer to a yes/no question must agree with a Q/A row that answers yes or no itself, when the sentence that
  best matches the question is one; against a document sentence a yes or no is not judged (source_polarity says
  why) and that sentence is shown as used.
- A refusal ("I have no source for that") is not an answer the sources support; it is not replaced by a quote.
`used` holds, per passage, the sentences that state the answer's facts or share most of its words: what the page
shows under each source. `extractive_answer` quotes the sentence(s) that best answer the question with their
citation; `retry_prompt` asks again with those sentences first and a narrower instruction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from studio.knowledge.collection import Passage
from studio.metrics.key_facts import Fact, answer_polarity, read_answer, read_facts
from studio.metrics.refusal import is_refusal

ANSWER_STYLES = ("auto", "generate", "quote")
ANSWER_STYLE_LABELS = {"auto": "Checked: the model answers, an unsupported answer is asked again, then quoted",
                       "generate": "The model's answer as it is (checked and labelled)",
                       "quote": "Quote the best sentences of the sources (no model)"}
YES_NO_START = re.compile(r"^\W*(?:is|are|am|was|were|do|does|did|can|could|will|would|shall|should|may|might|must|"
                          r"has|have|had|isn't|aren't|doesn't|don't|can't|won't)\b", re.I)
CITATION = re.compile(r"\[\d+\](?:\s*\([^()\n]*\))?")
"""A citation marker, with the source header a model may copy after it: "[1] (policy_wording.pdf p. 6 § 5.2)"."""
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'“(\[]?[A-Z0-9])")
_ABBREVIATION_END = re.compile(r"\b(?:rs|no|p|pp|e\.g|i\.e|ltd|pvt|dr|mr|mrs|ms|st|sec|approx|vs|etc|fig|art)\.$",
                               re.I)
_LIST_ITEM = re.compile(r"\n\s*(?:[-*•]|\(?[a-z0-9]{1,3}[.)])\s+")
_HEADING_LINE = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+[A-Z][^.!?\n]{0,70}|[A-Z][A-Z0-9 ,&/()-]{2,70})$", re.M)
"""A numbered heading ("5.2 Maternity") or an upper-case line on its own: never the start of a sentence."""
_WORD = re.compile(r"[a-z0-9]+")
_NOT_NAMES = frozenset({"rs", "inr", "q"})
"""Capitalised words that name nothing (with _STOP_WORDS: "Rs. 2,000", "Q: ... A: ...")."""
_STOP_WORDS = frozenset("""a an the and or of to in on for by with at from as is are was were be been it its this that
these those i you your we our they their he she his her what which who whom when where how why do does did can could
will would shall should may might must has have had not no yes if then than so such any all each per into under
about after before over up out also only there here""".split())


@dataclass(frozen=True)
class Sentence:
    passage: int
    """Index of its passage in the list the answer was given (its citation number is passage + 1)."""
    text: str


@dataclass
class SupportCheck:
    answer: str
    facts: list[Fact] = field(default_factory=list)
    """The answer's key facts (its yes/no apart), citation markers left out."""
    missing: list[Fact] = field(default_factory=list)
    """Facts of the answer that no passage states."""
    polarity: str | None = None
    """The answer's yes or no, for a yes/no question."""
    source_polarity: str | None = None
    """The yes or no of the passage sentence that best matches a yes/no question."""
    empty: bool = False
    """Nothing but whitespace or citation markers."""
    unfounded: bool = False
    """An answer without key facts, and not a yes or no to a yes/no question, whose words no passage sentence holds
    (at least half of them)."""
    other_subject: list[str] = field(default_factory=list)
    """Names of the sources the answer speaks of instead of the ones the question asks about ("Silver" for a
    question about Platinum): see `other_subject`."""
    asked_about: list[str] = field(default_factory=list)
    refused: bool = False
    """The answer declines: it says the sources do not answer (studio/metrics/refusal.py)."""
    used: dict[int, list[str]] = field(default_factory=dict)
    """Passage index -> the sentences of it the answer used."""

    @property
    def contradicts(self) -> bool:
        return bool(self.polarity and self.source_polarity and self.polarity != self.source_polarity)

    @property
    def supported(self) -> bool:
        return not (self.empty or self.refused or self.unfounded or self.missing or self.contradicts
                    or self.other_subject)

    @property
    def unchecked_polarity(self) -> bool:
        """A yes or no the sources do not state outright: shown with the sentence it rests on, not judged."""
        return bool(self.polarity) and self.source_polarity is None

    def verdict(self) -> str:
        if self.empty:
            return "no answer: the reply held only a citation"
        if self.refused:
            return "no answer in the sources"
        problems = []
        if self.missing:
            problems.append("not found in the sources: " + ", ".join(f.span for f in self.missing))
        if self.contradicts:
            problems.append(f"says {self.polarity}, the sources say {self.source_polarity}")
        if self.unfounded:
            problems.append("its words are not in the sources")
        if self.other_subject:
            problems.append(f"asked about {' '.join(self.asked_about)}, answers about {' '.join(self.other_subject)}")
        if problems:
            return "; ".join(problems)
        found = "every fact found in the sources" if self.facts else "no key facts to check; sources shown"
        return found + ("; its yes or no is not stated as such: read the sentence shown" if self.unchecked_polarity
                        else "")


# ------------------------------------------------------------------------------------------------ sentences


def answer_text(passage: Passage) -> str:
    """The part of a passage an answer may come from: a Q/A row's answer, a document passage whole."""
    if passage.row is not None and passage.text.startswith("Q:") and "\nA:" in passage.text:
        return passage.text.split("\nA:", 1)[1].strip()
    return passage.text


def sentences(text: str) -> list[str]:
    """Sentences and list items of a text; lines broken inside a paragraph (PDF text) are joined first."""
    found = []
    text = _HEADING_LINE.sub(lambda m: "\n" + m.group(0) + "\n", text)
    for paragraph in re.split(r"\n\s*\n", _LIST_ITEM.sub("\n\n", "\n" + text)):
        joined = " ".join(paragraph.split())
        parts, pending = _SENTENCE_END.split(joined), ""
        for part in parts:
            pending = f"{pending} {part}".strip() if pending else part
            if not _ABBREVIATION_END.search(pending):
                found.append(pending)
                pending = ""
        if pending:
            found.append(pending)
    return [s for s in found if _WORD.search(s.lower())]


def passage_sentences(passages: list[Passage]) -> list[Sentence]:
    return [Sentence(i, s) for i, p in enumerate(passages) for s in sentences(answer_text(p))]


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS}


def relevance(question: str, texts: list[str]) -> list[float]:
    """Each text's relevance to the question: the cosine similarity of their embeddings (the collection's
    embedding model) plus half the share of the question's content words it holds."""
    from studio.knowledge.embeddings import embedder

    vectors = embedder().encode([question] + texts)
    asked = content_words(question)
    return [float(vectors[0] @ v) + 0.5 * len(asked & content_words(t)) / max(1, len(asked))
            for t, v in zip(texts, vectors[1:])]


def best_sentences(question: str, passages: list[Passage], limit: int = 2) -> list[Sentence]:
    """The sentences that best answer `question`, best first (by `relevance`). With limit 2: the
    sentence after the best one when it continues it (a short first sentence, or a list after a colon), else the
    second best. On 24 policy questions over 3 retrieved passages the best sentence held the evidence for 16, the
    best two for 19 (bench/support_check.py, as measured last; tests/data/knowledge/policy_questions.csv, not a
    test set)."""
    candidates = passage_sentences(passages)
    if not candidates:
        return []
    scores = relevance(question, [c.text for c in candidates])
    ranked = sorted(range(len(candidates)), key=lambda i: -scores[i])
    best, after = ranked[0], ranked[0] + 1
    if (after < len(candidates) and candidates[after].passage == candidates[best].passage
            and (len(candidates[best].text) < 80 or candidates[best].text.endswith(":"))):
        ranked = [best, after] + [i for i in ranked[1:] if i != after]
    return [candidates[i] for i in ranked[:limit]]


# ---------------------------------------------------------------------------------------------------- check


def strip_citations(answer: str) -> str:
    return " ".join(CITATION.sub(" ", answer).split())


def is_yes_no_question(question: str) -> bool:
    return bool(YES_NO_START.match(question))


def _numbers(value: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", value))


def _found(fact: Fact, stated: frozenset, words: str, numbers: set[str]) -> bool:
    if fact.kind == "entity":
        return f" {fact.value} " in words
    if (fact.kind, fact.value) in stated:
        return True
    return fact.kind == "number" and fact.value in numbers


def _stated(text: str) -> tuple[frozenset, str, set[str]]:
    stated, words, _ = read_answer(text)
    return stated, words, {n for _, value in stated for n in _numbers(value)}


def asks_the_same(question: str, passage: Passage) -> bool:
    """Whether a Q/A row's own question asks what `question` asks: each holds at least 80% of the other's content
    words. A row's Yes or No answers its own question only: a "Yes." about robotic surgery says nothing about
    polyps, and "Is there a limit on room rent? Yes (on Silver)" says nothing about Platinum's."""
    if passage.row is None or not passage.text.startswith("Q:"):
        return False
    row, asked = content_words(passage.text.split("\nA:", 1)[0][2:]), content_words(question)
    shared = len(row & asked)
    return bool(row and asked) and shared >= 0.8 * len(row) and shared >= 0.8 * len(asked)


def source_polarity(question: str, best: Sentence | None, passages: list[Passage]) -> str | None:
    """The sources' yes or no to a yes/no question, where they state one outright: the Q/A row holding the sentence
    that best matches the question, when it asks the same and its answer opens with Yes or No. A document
    sentence's yes or no is not
    read: negation cues were right for 0.72 of 166 FAQ answers' sentences and Qwen2.5-0.5B's own Yes/No likelihood
    for 0.62 (bench/support_check.py); judged by either, correct "No" answers were replaced by quotes."""
    passage = passages[best.passage] if best else None
    if passage is None or not asks_the_same(question, passage):
        return None
    lead = re.match(r"^\W*(yes|no)\b", answer_text(passage), re.I)
    return lead.group(1).lower() if lead else None


def check(answer: str, question: str, passages: list[Passage]) -> SupportCheck:
    """How far `answer` is supported by `passages` (see the module docstring)."""
    plain = strip_citations(answer)
    result = SupportCheck(answer)
    if not plain or not _WORD.search(plain.lower()):
        result.empty = True
        return result
    if is_refusal(plain):
        result.refused = True
        return result
    everything = _stated("\n".join(answer_text(p) for p in passages))
    result.facts = [f for f in read_facts(plain, (), True) if f.kind != "polarity"]
    result.missing = [f for f in result.facts if not _found(f, *everything)]
    best = None
    if is_yes_no_question(question) and passages:
        result.polarity = answer_polarity(plain)
        if result.polarity:
            best = next(iter(best_sentences(question, passages, limit=1)), None)
            result.source_polarity = source_polarity(question, best, passages)
    elif any(f.kind != "entity" for f in result.facts):
        result.asked_about, result.other_subject = other_subject(plain, question, passages)
    result.used = used_sentences(plain, result.facts, passages)
    if best is not None and best.text not in result.used.get(best.passage, []):
        result.used.setdefault(best.passage, []).append(best.text)  # what a yes or no rests on
    result.unfounded = not result.facts and not result.used and not result.polarity
    return result


def _names(text: str, inside_only: bool = True, as_written: bool = False) -> list[str]:
    """Capitalised words ("Gold", "Plus", "OPD"), lower-cased unless `as_written`, in order; with `inside_only`,
    those that do not open a sentence."""
    found = []
    for sentence in sentences(text):
        words = [w.strip("\"'()[],.;:!?") for w in sentence.split()]
        found += [w for i, w in enumerate(words) if w[:1].isupper() and (i or not inside_only)]
    found = [w for w in found if w.lower() not in _NOT_NAMES and w.lower() not in _STOP_WORDS]
    return found if as_written else [w.lower() for w in found]


def other_subject(answer: str, question: str, passages: list[Passage]) -> tuple[list[str], list[str]]:
    """(the names the question asks about, the ones the answer speaks of instead), or two empty lists. A name is a
    word the sources capitalise inside a sentence (plans, products, places). When the question names some and the
    answer states facts about others and none of the question's, the facts come from the wrong row or sentence:
    "Silver pays up to Rs. 2,000 for a road ambulance" to "How much ... road ambulance on Platinum?" (Qwen2.5-0.5B
    on a dev question). Only for questions that are not yes/no: "Does Silver cover X? No, only Gold Plus and
    Platinum" is a right answer about other plans. The sample FAQ's own answers to its 192 questions that are not
    yes/no were flagged twice (a question naming the company answered with plan names; ICU charges for a question
    about Silver), so the rule costs a right answer a second try now and then, and catches a fact carried over
    from the wrong row."""
    text = "\n".join(answer_text(p) for p in passages)
    known = set(_names(text))
    asked = [w for w in dict.fromkeys(_names(question, False, True)) if w.lower() in known]
    said = [w for w in dict.fromkeys(_names(answer, False, True)) if w.lower() in known]
    if asked and said and not {w.lower() for w in asked} & {w.lower() for w in said}:
        return asked, said
    return [], []


def used_sentences(answer: str, facts: list[Fact], passages: list[Passage]) -> dict[int, list[str]]:
    """Passage index -> its sentences that state one of the answer's facts (names count only in an answer without
    other facts); without facts, the sentence holding most of the answer's content words (at least half of them)."""
    used: dict[int, list[str]] = {}
    candidates = passage_sentences(passages)
    specific = [f for f in facts if f.kind != "entity"] or facts  # a name alone says little where numbers are
    for candidate in candidates:
        stated = _stated(candidate.text)
        if any(_found(f, *stated) for f in specific):
            used.setdefault(candidate.passage, []).append(candidate.text)
    if used or not candidates:
        return used
    said = content_words(answer)
    overlap = [(len(said & content_words(c.text)) / max(1, len(said)), c) for c in candidates]
    share, best = max(overlap, key=lambda pair: pair[0])
    return {best.passage: [best.text]} if share >= 0.5 else {}


# ------------------------------------------------------------------------------------------------ fallbacks


def extractive_answer(question: str, passages: list[Passage]) -> tuple[str, list[Sentence]]:
    """The two sentences that best answer the question, quoted with their citations, best first: "From
    policy_wording.pdf p. 6 § 5.2: ..." (and the sentences, for the sources' "used" lines). From a Q/A row the
    quote starts at its answer's beginning when the row asks the same, so its own Yes or No comes with it."""
    chosen = best_sentences(question, passages)
    if chosen and asks_the_same(question, passages[chosen[0].passage]):
        row = [s for s in passage_sentences(passages) if s.passage == chosen[0].passage]
        chosen = row[: max(2, row.index(chosen[0]) + 1)]
    by_passage: dict[int, list[str]] = {}
    for sentence in chosen:
        by_passage.setdefault(sentence.passage, []).append(sentence.text)
    quoted = " ".join(f"From {passages[i].citation}: {' '.join(texts)}" for i, texts in by_passage.items())
    return quoted, chosen


RETRY_INSTRUCTIONS = (
    "Answer the question in one or two sentences using only the key sentences below. Copy every amount, number, "
    "period and name exactly as the key sentences write it. If they do not answer the question, say that you have "
    "no source for that.")


def retry_prompt(question: str, passages: list[Passage], system_prompt: str = "",
                 key: list[Sentence] | None = None) -> str:
    """The system prompt of the second try: the sentences that best answer the question (`key`, found when not
    given) first, then the passages."""
    key = best_sentences(question, passages) if key is None else key
    head = system_prompt.strip() + "\n\n" if system_prompt.strip() else ""
    lines = "\n".join(f"- {s.text}" for s in key)
    sources = "\n\n".join(f"[{n}] {p.text}" for n, p in enumerate(passages, 1))
    return f"{head}{RETRY_INSTRUCTIONS}\n\nKey sentences:\n{lines}\n\nSources:\n\n{sources}"
