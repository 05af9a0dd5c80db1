"""Key facts read from text: amounts, numbers with units, durations, percentages, phone numbers, emails, times,
names and a yes/no. Pure regex, no model. studio/metrics/facts.py scores an answer with them (key-fact accuracy).

Key facts, and when an answer states one (values compared after normalising):
- money: "Rs. 5,00,000" = "₹500000" = "5 lakh rupees" = "INR 5 lakh" (lakh/crore always mean rupees); an answer
  also states an amount with the bare number ("500000"). percent: "50%" = "50 per cent" = "fifty percent".
- duration: "15-day" = "15 days" = "fifteen days"; exact conversions only ("2 years" = "24 months", "48 hours" =
  "2 days", never days <-> months); "working"/"consecutive" are ignored.
- age: "age 65", "aged 65", "65 years old", "60 or older"; also stated by "65 years" or a bare "65".
- number: a number without a unit above ("2 deliveries"); stated only by the same bare number, so "30%" does not
  state "30 days" and "30 days" does not state "30". A reference's number words without a unit ("the two of
  them") are prose, not facts; an answer's are read ("two deliveries" states "2 deliveries").
- phone: 10-13 digits compared without spaces, dashes, "+91" or a trunk "0"; email, url: compared lowercased;
  time: times of day ("10 AM" = "10:00 am" = "10 a.m.", "midnight", "noon") and "24x7" = "24/7" =
  "24 hours a day, 7 days a week" = "round the clock".
- entity (names): a run of capitalised words ("Gold Plus", "Family Health Shield", "IRDAI", "Section 80D") that
  does not start a sentence, without leading/trailing common words ("The", "Call", ...) and "Ltd."/"Pvt.". At a
  sentence start a run of 2+ capitalised words is a name ("Gold Plus covers"); a single word only if it is an
  acronym or a known name: used mid-sentence elsewhere in the text, given in `names`, or (score_all) used
  mid-sentence in any reference. Known names are found wherever they appear capitalised. An answer states a name
  if the name's words appear in it, in order, in any case.
- polarity: a reference starting with "Yes"/"No" (the "No" followed by punctuation, so not "No-claim bonus"). The
  answer's polarity is its own leading yes/no; without one, its first sentence decides: a negation ("not", "no",
  "n't", "never", "excluded") means no, "I don't know"/"not sure" means none, anything else yes.
Each distinct (kind, value) of a reference counts once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

KINDS = ("polarity", "email", "url", "phone", "time", "money", "percent", "duration", "age", "number", "entity")


@dataclass(frozen=True)
class Fact:
    kind: str  # one of KINDS
    value: str  # normalised: "Rs 500000", "15 days", "18002664545", "gold plus", "no"
    span: str  # the text it was read from




# Patterns below read ASCII-lowercased text (no re.IGNORECASE: it makes Python's regexes several times slower).
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_BASIC = "|".join(sorted([*_ONES, *_TENS], key=len, reverse=True))
_WORD_NUMBER = re.compile(rf"\b(?:{_BASIC})(?:(?:[\s-]+|(?:(?<=hundred)|(?<=thousand))\s+and\s+)"
                          rf"(?:{_BASIC}|hundred|thousand)\b)*\b")
_ONE_UNIT = re.compile(r"\ban?(?= (?:minute|hour|day|week|month|year)\b)")  # an answer's "within an hour"
_DIGITS = re.compile(r"\d(?<![\w,]\d)(?:\d{0,2}(?:,\d{2,3})+|\d*)(?:\.\d+)?")  # 1,000 and 5,00,000 groupings

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]")
_ALWAYS_OPEN = re.compile(r"\b24\s*[x×/]\s*7\b(?![/\d])|\b24 hours a day,? (?:and )?7 days a week\b"
                          r"|\ba?round[- ]the[- ]clock\b")
_MANY_DIGITS = re.compile(r"\d[\d\s-]{8,}\d")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s-]?)?\d{2,5}(?:[\s-]\d{3,5}){1,3}(?!\w)|(?<![\w+])\d{10,12}(?!\w)")
_CLOCK_12 = re.compile(r"(\d(?<![\w.,:]\d)\d?)(?:[:.]([0-5]\d))?\s*([ap])(?:\.\s?m\.|\.?\s?m\b)")
_CLOCK_24 = re.compile(r"(\d(?<![\w.,:]\d)\d?):([0-5]\d)(?![\d:])")
_CLOCK_WORDS = re.compile(r"\b(?:midnight|noon|midday)\b")
_DIGIT_RUN = re.compile(r"\d+")

_SCALE = re.compile(r"[\s-]*(hundred|thousand|million|billion|lakhs?|lacs?|crores?|k\b)")
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "k": 1000}
_RUPEE_SCALES = {"lakh": 10**5, "lac": 10**5, "crore": 10**7}
_CURRENCY_AFTER = re.compile(r"\s*(?:rupees?|rs\.?|inr)(?!\w)")
_PERCENT_AFTER = re.compile(r"\s?(?:%|per\s?cent\b)")
_DURATION_AFTER = re.compile(r"[\s-]*(?:(?:working|business|calendar|clear|consecutive|continuous)[\s-]+)?"
                             r"(minute|min|hour|hr|day|week|month|year|yr)s?\b")
_OLD_AFTER = re.compile(r"[\s-]*(?:old|of\s+age)\b")
_OR_OLDER = re.compile(r"\s*(?:or|and)\s+(?:older|above|over)\b")
_NOUN_AFTER = re.compile(r"[ -]([a-z]{2,})\b")
_CURRENCY_BEFORE = re.compile(r"(?:\b(?:rs|inr|re)\.?|₹)\s*$")
_AGE_BEFORE = re.compile(r"\b(?:aged?|ages)(?:\s+of)?\s+$")
_JOINED = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|and/or\s+|and\s+|or\s+|to\s+|[-–]\s*)")
_MINUTES = {"minute": 1, "min": 1, "hour": 60, "hr": 60, "day": 1440, "week": 10080}
_MONTHS = {"month": 1, "year": 12, "yr": 12}

_NAME_WORD = r"[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*"
_NAME_SPAN = re.compile(rf"[A-Z](?<![\w'’-][A-Z])[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*"
                        rf"(?:(?:\s+(?:of|&)\s+|[ ]+)(?:{_NAME_WORD}|\d+[A-Za-z]\w*))*")
_COMMON_WORDS = frozenset("""
a an the this that these those it its our your my their his her we you they he she i me us them in on at for
from to of by with without under after before during within if when where while as but and or so yes no not
only all any each every both some most also however please call contact email write visit send ask see note
check pay use there here what which who how why dear hi hello thanks thank sorry unfortunately sure ok okay
first then next finally once rs inr re mr mrs ms dr just even still yet although though because since about
""".split())
_FIRST_WORD, _LAST_WORD = re.compile(r"(\S+)\s+"), re.compile(r"\s+(\S+)$")
_WORDS, _POSSESSIVE = re.compile(r"[a-z0-9]+"), re.compile(r"['’]s\b")
_COMPANY_SUFFIXES = frozenset({"ltd", "pvt", "limited", "inc", "llp", "co", "corp"})
_ABBREVIATIONS = frozenset({"rs", "re", "e.g", "i.e", "vs", "dr", "mr", "mrs", "ms", "st", "approx"})

_POLARITY = re.compile(r"^\W*(?:(yes|yeah|yep|yup|correct)\b|(no|nope)(?=\s*[.,!;:—–]|\s+-\s|\s*$))", re.I)
_ANSWER_LEAD = re.compile(r"^\W*(?:unfortunately|sadly|sorry|well|actually|so|i'm afraid)\W+", re.I)
_FIRST_SENTENCE = re.compile(r"^.*?(?:[.!?](?=\s)|$)", re.S)
_CITATION = re.compile(r"\[\d+\]")
_A_WORD = re.compile(r"[^\W\d_]{2,}")
_UNSURE = re.compile(r"\b(?:(?:do not|don['’]t|dont) know|not sure|unsure|can(?:not|['’]t) say|no information|"
                     r"no (?:source|sources)\b)")
"""An answer that declines: it states neither yes nor no ("No source for that." is no "No")."""
NEGATION = re.compile(r"\b(?:no|not|never|none|nothing|neither|nor|cannot)\b|n['’]t\b|\bexclud")


def _fmt(number: float) -> str:
    number = round(number, 6)
    return str(int(number)) if number == int(number) else f"{number:.6f}".rstrip("0")


def _duration(amount: float, unit: str) -> str:
    """In the largest unit that holds it exactly: 24 months -> "2 years", 48 hours -> "2 days", 90 min stays."""
    if unit in _MONTHS:
        total, choices = amount * _MONTHS[unit], (("year", 12), ("month", 1))
    else:
        total, choices = amount * _MINUTES[unit], (("day", 1440), ("hour", 60), ("minute", 1))
    for name, size in choices:
        count = round(total / size, 6)
        if count == int(count) or size == 1:
            return f"{_fmt(count)} {name}{'' if count == 1 else 's'}"


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _contacts_and_times(lower: str) -> list[tuple[int, int, Fact]]:
    """(start, end, fact) for emails, URLs, 24x7, phone numbers and times of day; facts' spans are filled in later."""
    found = []

    def add(start: int, end: int, kind: str, value: str) -> None:
        nonlocal lower
        found.append((start, end, Fact(kind, value, "")))
        lower = _blank(lower, start, end)  # so that their digits are not read again

    for m in _EMAIL.finditer(lower) if "@" in lower else ():
        add(m.start(), m.end(), "email", m.group(0))
    for m in _URL.finditer(lower) if "www." in lower or "http" in lower else ():
        add(m.start(), m.end(), "url", m.group(0))
    for m in _ALWAYS_OPEN.finditer(lower) if "24" in lower or "clock" in lower else ():
        add(m.start(), m.end(), "time", "24x7")
    for m in _PHONE.finditer(lower) if _MANY_DIGITS.search(lower) else ():
        groups = list(_DIGIT_RUN.finditer(m.group(0)))
        while sum(len(g.group(0)) for g in groups) > 13 and len(groups) > 2:
            groups.pop()  # "1800 266 4545 365 days": the last group is not part of the number
        digits = "".join(g.group(0) for g in groups)
        if 10 <= len(digits) <= 13:
            digits = digits[2:] if len(digits) == 12 and digits.startswith("91") else digits
            digits = digits[1:] if len(digits) == 11 and digits.startswith("0") else digits
            add(m.start(), m.start() + groups[-1].end(), "phone", digits)
    for m in _CLOCK_12.finditer(lower):
        if 1 <= int(m.group(1)) <= 12:
            hour = int(m.group(1)) % 12 + (12 if m.group(3) == "p" else 0)
            add(m.start(), m.end(), "time", f"{hour:02d}:{m.group(2) or '00'}")
    for m in _CLOCK_24.finditer(lower) if ":" in lower else ():
        if int(m.group(1)) <= 23:
            add(m.start(), m.end(), "time", f"{int(m.group(1)):02d}:{m.group(2)}")
    for m in _CLOCK_WORDS.finditer(lower) if "night" in lower or "noon" in lower or "midday" in lower else ():
        add(m.start(), m.end(), "time", "00:00" if m.group(0) == "midnight" else "12:00")
    return found


def _read_number(text: str, m: re.Match) -> dict | None:
    """The number at m with the unit around it, or None for a code or ordinal such as "80D" or "2nd"."""
    words = not m.group(0)[0].isdigit()
    if words:
        amount = 1.0 if m.group(0) in ("a", "an") else float(_parse_words(m.group(0)))
    else:
        amount = float(m.group(0).replace(",", ""))
    item, end = {"start": m.start(), "amount": amount, "unit": None, "words": words, "scale": 1}, m.end()
    if scale := _SCALE.match(text, end):
        name, end = scale.group(1).rstrip("s"), scale.end()
        if name in _RUPEE_SCALES:
            item["unit"], item["scale"] = "money", _RUPEE_SCALES[name]
        else:
            item["amount"] *= _SCALES[name]
    if currency := _CURRENCY_AFTER.match(text, end):
        item["unit"], end = "money", currency.end()
    elif item["unit"] == "money":
        pass
    elif percent := _PERCENT_AFTER.match(text, end):
        item["unit"], end = "percent", percent.end()
    elif duration := _DURATION_AFTER.match(text, end):
        item["unit"], item["time_unit"], end = "duration", duration.group(1), duration.end()
        if old := _OLD_AFTER.match(text, end):
            item["unit"], end = "age", old.end()
    elif older := _OR_OLDER.match(text, end):
        item["unit"], item["time_unit"], end = "age", "year", older.end()
    elif end < len(text) and text[end].isalpha():
        return None
    window = max(0, m.start() - 12)
    currency, age = _CURRENCY_BEFORE.search(text, window, m.start()), _AGE_BEFORE.search(text, window, m.start())
    item["currency"], item["span_start"] = bool(currency), (currency or age or m).start()  # from "Rs." or "age"
    if age and item["unit"] in (None, "duration"):
        item["unit"], item["time_unit"] = "age", item.get("time_unit", "year")
    item["end"] = end
    return item


def _parse_words(words: str) -> int:
    total, current = 0, 0
    for word in _WORDS.findall(words):
        current += _ONES.get(word, 0) + _TENS.get(word, 0)
        if word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total, current = total + max(current, 1) * 1000, 0
    return total + current


def _numbers(lower: str, original: str, in_reference: bool) -> list[tuple[int, Fact]]:
    """Numbers with their units (money, percent, duration, age) or without (number)."""
    matches = [*_DIGITS.finditer(lower), *_WORD_NUMBER.finditer(lower)]
    matches = sorted(matches + ([] if in_reference else list(_ONE_UNIT.finditer(lower))), key=lambda m: m.start())
    items = [item for m in matches if (item := _read_number(lower, m))]

    def joined(left: dict, right: dict) -> bool:
        return _JOINED.fullmatch(lower, left["end"], right["start"]) is not None

    # A bare number joined to its neighbour takes the neighbour's unit: "60 and 90 days", "Rs. 3 or 5 lakh",
    # "Rs. 25,000 or 50,000", "aged 18 to 65".
    for left, right in reversed(list(zip(items, items[1:]))):
        if (left["unit"] is None and right["unit"] and not right["currency"] and joined(left, right)
                and (right["unit"] == "money" or not left["currency"])):
            left.update(unit=right["unit"], scale=right["scale"], time_unit=right.get("time_unit"))
    for left, right in zip(items, items[1:]):
        if right["unit"] is None and not right["currency"] and joined(left, right):
            if left["currency"] or left["unit"] == "money":
                right.update(unit="money", currency=True)
            elif left["unit"] == "age":
                right.update(unit="age", time_unit=left["time_unit"])
    facts = []
    for item in items:
        start, end, amount, unit = item["span_start"], item["end"], item["amount"], item["unit"]
        if unit == "money" or item["currency"]:
            fact = Fact("money", f"Rs {_fmt(amount * item['scale'])}", original[start:end])
        elif unit == "percent":
            fact = Fact("percent", f"{_fmt(amount)}%", original[start:end])
        elif unit in ("duration", "age"):
            fact = Fact(unit, _duration(amount, item["time_unit"]), original[start:end])
        elif item["words"] and (in_reference or amount == 1):
            continue  # "the two of them", "an emergency one"
        else:
            noun = _NOUN_AFTER.match(lower, end)
            fact = Fact("number", _fmt(amount), original[start: noun.end() if noun else end])
        facts.append((item["start"], fact))
    return facts


def normal_words(text: str) -> str:
    """Lowercase words joined by single spaces, possessive 's dropped: the form in which names are compared."""
    return " ".join(_WORDS.findall(_POSSESSIVE.sub("", text.lower())))


def _name_value(span: str) -> str:
    words = normal_words(span).split()
    while words and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    return " ".join(words)


def _sentence_start(text: str, pos: int) -> bool:
    before = text[max(0, pos - 80): pos].rstrip(" \t\"'“‘([*•-")
    if not before or before[-1] in "\n\r!?":
        return True
    return before[-1] == "." and re.search(r"([\w.]*)\.$", before).group(1).lower() not in _ABBREVIATIONS


@lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern | None:
    alternatives = sorted((r"[\s-]+".join(map(re.escape, name.split())) for name in names), key=len, reverse=True)
    return re.compile(rf"(?<![\w'’-])(?:{'|'.join(alternatives)})(?![\w-])") if names else None


def _entities(cased: str, lower: str, original: str, names: tuple[str, ...]) -> list[tuple[int, Fact]]:
    found = []
    pattern = _names_pattern(names)
    for m in pattern.finditer(lower) if pattern else ():
        if cased[m.start()].isupper() or cased[m.start()].isdigit():  # "Silver", not "silver"
            found.append((m.start(), Fact("entity", _name_value(m.group(0)), original[m.start(): m.end()])))
            cased = _blank(cased, m.start(), m.end())
    candidates = []
    for m in _NAME_SPAN.finditer(cased):
        start, span, at_start = m.start(), m.group(0), _sentence_start(cased, m.start())
        while (first := _FIRST_WORD.match(span)) and first.group(1).lower() in _COMMON_WORDS:
            start, span, at_start = start + first.end(), span[first.end():], False
        while (last := _LAST_WORD.search(span)) and last.group(1).lower() in _COMMON_WORDS:
            span = span[: last.start()]  # "About Rs. 6,240"
        value = _name_value(span)
        if len(value) >= 2 and value not in _COMMON_WORDS:
            candidates.append((start, span, at_start, value))
    known = {value for _, _, at_start, value in candidates if not at_start} | set(names)
    for start, span, at_start, value in candidates:
        first, _, rest = span.partition(" ")
        if at_start and _name_value(first) not in known and (rest.isupper() or _name_value(rest) in known):
            start, span, value = start + len(first) + 1, rest, _name_value(rest)  # "Outpatient AYUSH" -> "AYUSH"
        elif at_start and not rest and not (span.isupper() or value in known):
            continue  # a single capitalised word starting a sentence is an ordinary word unless known as a name
        found.append((start, Fact("entity", value, original[start: start + len(span)])))
    return found


def _polarity(text: str) -> tuple[str, str] | None:
    m = _POLARITY.match(text)
    return None if not m else ("yes", m.group(1)) if m.group(1) else ("no", m.group(2))


def answer_polarity(answer: str) -> str | None:
    first_sentence = _FIRST_SENTENCE.match(answer.strip().lower()).group(0)
    if _UNSURE.search(first_sentence):
        return None
    lead = _ANSWER_LEAD.match(answer)
    if explicit := _polarity(answer[lead.end():] if lead else answer):
        return explicit[0]
    if not _A_WORD.search(_CITATION.sub(" ", first_sentence)):
        return None  # "[1] [2]" (only citations) or "..." asserts nothing
    return "no" if NEGATION.search(first_sentence) else "yes"


@lru_cache(maxsize=8192)
def read_facts(text: str, names: tuple[str, ...], reference: bool) -> tuple[Fact, ...]:
    lower = text.lower() if text.isascii() else text.translate(_LOWER)  # same length, so offsets hold
    found = [(-1, Fact("polarity", *polarity))] if (polarity := _polarity(text)) else []
    cased = text  # blanked like lower, case kept for names
    for start, end, fact in _contacts_and_times(lower):
        found.append((start, Fact(fact.kind, fact.value, text[start:end])))
        lower, cased = _blank(lower, start, end), _blank(cased, start, end)
    found += _numbers(lower, text, reference)
    if reference:  # an answer's names are looked up in its words (_read_answer)
        found += _entities(cased, lower, text, names)
    unique = {}
    for _, fact in sorted(found, key=lambda pair: pair[0]):
        unique.setdefault((fact.kind, fact.value), fact)
    return tuple(unique.values())


def checked_text(value, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, not {type(value).__name__}")
    return value


def name_key(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError("names must be a list of names, not one string")
    return tuple(sorted({_name_value(checked_text(name, "each name")) for name in names} - {""}))


def extract_facts(text: str, names: Iterable[str] = ()) -> list[Fact]:
    """The key facts of a reference text, in order of appearance, each (kind, value) once."""
    return list(read_facts(checked_text(text, "text"), name_key(names), True))


def read_answer(answer: str) -> tuple[frozenset, str, str | None]:
    """The (kind, value) pairs an answer states, its words (" gold plus covers ... ") and its polarity."""
    stated = set()
    for fact in read_facts(answer, (), False):
        stated.add((fact.kind, fact.value))
        if fact.kind == "number":
            stated |= {("money", f"Rs {fact.value}"), ("age", _duration(float(fact.value), "year"))}
        elif fact.kind in ("duration", "age"):
            stated |= {("duration", fact.value), ("age", fact.value)}
    return frozenset(stated), f" {normal_words(answer)} ", answer_polarity(answer)
