"""Whether an answer declines to answer: "I have no source for that", "the sources do not say", "I don't know".

The chat's own refusal (studio/knowledge/grounding.no_source_reply) and the ways a model following the grounding
instructions says it; an answer that says something is not covered ("Dental treatment is not covered") answers.
"""

from __future__ import annotations

import re

REFUSAL = re.compile(
    r"\b(?:i have no source|no answer i could check|no source (?:for|answers|says|mentions)|(?:do(?:es)? not|don't|doesn't) (?:have|contain|"
    r"mention|say|state|answer|provide|include|specify)[^.]{0,40}\b(?:source|information|answer|details?)|"
    r"(?:sources?|documents?|passages?|context) (?:do(?:es)? not|don't|doesn't) (?:say|mention|contain|answer|"
    r"state|provide|include|specify)|not (?:mentioned|stated|specified|found|given|provided) in the "
    r"(?:sources?|documents?|passages?|context)|no information (?:about|on|in)|i (?:do not|don't) know|"
    r"(?:cannot|can't|unable to) (?:answer|find|tell|say|determine)|there is no (?:information|mention))", re.I)


def is_refusal(answer: str) -> bool:
    """True when the answer declines (says it has no source or cannot answer) rather than answering."""
    return bool(REFUSAL.search(answer or ""))
