"""Follow-up questions: which way of making them standalone retrieves the right passage more often?

12 two-turn conversations about the sample policy and FAQ: the first turn names the topic, the second is a follow-up
that does not ("How many days is it?", "And on Platinum?"). Each has the fact its answer needs; a hit is a
retrieved passage (top 3, hybrid) that states it. Strategies (studio/knowledge/grounding.py):
  none      the follow-up as typed
  append    the earlier question, then the follow-up (knowledge.standalone_query)
  rewrite   the chat model rewrites the follow-up as a standalone question (greedy, at most 40 tokens)
The collection covers assets/insurer_faq.csv + assets/policy_wording.md, built in a temporary CQA_KNOWLEDGE_DIR.

Off-topic questions asked after an on-topic turn show why support is also checked on the question as typed.
It also asks each model 4 off-topic questions under knowledge.NO_SOURCE_INSTRUCTIONS and counts the replies that
decline, which is why chat_turn answers those with a fixed "I have no source for that" instead.

    python bench/followup_rewrite.py [--models bundled:qwen2.5-coder-0.5b-instruct bundled:smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONVERSATIONS = [  # (first turn, follow-up, any of these strings in one passage answers the follow-up)
    ("What is the waiting period for maternity benefits?", "And how many deliveries are covered?",
     ["2 deliveries"]),
    ("How much does the policy pay for road ambulance on Silver?", "And on Platinum?",
     ["Rs. 10,000 on Platinum"]),
    ("Is there a free-look period for a new policy?", "How many days is it?",
     ["reviewed for 30 days", "30 days from the date you receive", "30-day free-look",
      "within 30 days of receiving the policy"]),
    ("What is the grace period for renewal?", "What if I pay monthly?",
     ["15 days for monthly", "15 days of grace", "grace period is 15 days"]),
    ("How does the no-claim bonus work?", "How much is it on Gold Plus?", ["25% on Gold Plus"]),
    ("Do senior citizens pay a co-payment?", "How much is it on Platinum?",
     ["10% on Platinum", "10% co-payment", "co-payment, 10%", "It is 10% of each admissible claim"]),
    ("Is there an annual health check-up benefit?", "What is the limit on Platinum?",
     ["Rs. 5,000 on Platinum", "Platinum up to Rs. 5,000", "every policy year, up to Rs. 5,000"]),
    ("Does the policy cover outpatient doctor consultations?", "Up to how much per year?",
     ["Rs. 10,000 per policy year"]),
    ("How early must the hospital send a cashless request for a planned admission?", "And for an emergency?",
     ["within 24 hours of admission"]),
    ("Are pre-existing diseases covered?", "After how long on Platinum?",
     ["24 months on Platinum", "24-month waiting period for pre-existing", "24 months, compared with 36"]),
    ("How many days of post-hospitalisation expenses does Gold Plus pay?", "And on Platinum?",
     ["180 days after on Platinum", "180 days after discharge"]),
    ("Can I port my policy from another insurer?", "Do I keep the waiting time I already served?",
     ["Waiting periods served are credited", "credited up to your previous sum insured",
      "Time already served is credited"]),
]
OFF_TOPIC = ["What is the capital of France?", "Who wrote Romeo and Juliet?", "How do I bake bread?",
             "What is the boiling point of water at sea level?"]
DECLINES = ("no source", "don't have", "do not have", "cannot", "can't", "not able", "sorry", "unable",
            "not provide", "not contain", "no information")
COLLECTION = "followup_bench"


def hit(passages, facts: list[str]) -> bool:
    return any(fact in p.text for p in passages for fact in facts)


def score(queries: list[str], k: int) -> float:
    from studio.knowledge import store

    hits = [hit(store.retrieve(COLLECTION, q, k), facts) for q, (_, _, facts) in zip(queries, CONVERSATIONS)]
    return sum(hits) / len(hits)


def rewrites(model: str, verbose: bool) -> tuple[list[str], list[float], float]:
    """The model's standalone questions, the seconds each took, and its share of declined off-topic questions."""
    from studio.engines.base import GenerationSettings, complete
    from studio.engines.loader import load_model
    from studio.engines.prompts import DEFAULT_SYSTEM_PROMPT
    from studio.knowledge import grounding, store

    loaded = load_model(model)
    settings = GenerationSettings()
    config = grounding.KnowledgeConfig(COLLECTION, follow_up="rewrite")

    def rewrite(messages):
        return complete(loaded, messages, settings, grounding.REWRITE_SYSTEM_PROMPT, grounding.REWRITE_TOKENS)

    rewrite([{"role": "user", "content": "warm-up"}])
    queries, seconds = [], []
    for first, follow_up, _ in CONVERSATIONS:
        query, took = grounding.standalone(config, follow_up, [first], rewrite)
        queries.append(query)
        seconds.append(took)
        if verbose:
            print(f"  {follow_up!r} -> {query!r} ({took:.1f} s)")
    declined = 0
    for question in OFF_TOPIC:
        reply = complete(loaded, [{"role": "user", "content": question}], settings,
                         store.grounded_prompt([], DEFAULT_SYSTEM_PROMPT), 40)
        declined += any(word in reply.lower() for word in DECLINES)
        if verbose:
            print(f"  off-topic {question!r} -> {reply[:100]!r}")
    return queries, seconds, declined / len(OFF_TOPIC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=["bundled:qwen2.5-coder-0.5b-instruct",
                                                         "bundled:smollm2-135m-instruct"])
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    os.environ["CQA_KNOWLEDGE_DIR"] = tempfile.mkdtemp(prefix="followup-bench-")
    from studio.knowledge import store

    store.create(COLLECTION, [ROOT / "assets" / "insurer_faq.csv", ROOT / "assets" / "policy_wording.md"])
    results = {"none": (score([f for _, f, _ in CONVERSATIONS], args.k), 0.0),
               "append": (score([store.standalone_query(f, [q]) for q, f, _ in CONVERSATIONS], args.k), 0.0)}
    from studio.knowledge import grounding

    config = grounding.KnowledgeConfig(COLLECTION, k=args.k)
    topics = [first for first, _, _ in CONVERSATIONS]
    wrongly_supported = sum(grounding.ground(config, question, [topic], "").supported
                            for question, topic in zip(OFF_TOPIC, topics))
    appended = sum(store.has_support(store.retrieve(COLLECTION, store.standalone_query(q, [t]), args.k))
                   for q, t in zip(OFF_TOPIC, topics))
    declines = {}
    for model in args.models:
        print(f"rewriting with {model}...", flush=True)
        start = time.perf_counter()
        queries, seconds, declines[model] = rewrites(model, args.verbose)
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
        results[f"rewrite ({model})"] = (score(queries, args.k), statistics.median(seconds))
    print(f"\n{len(CONVERSATIONS)} follow-ups, hit@{args.k}, hybrid retrieval")
    print(f"{'strategy':55s} {'hit@' + str(args.k):>6s} {'median rewrite s':>17s}")
    for name, (share, latency) in results.items():
        print(f"{name:55s} {share:6.2f} {latency:17.2f}")
    print(f"off-topic questions after an on-topic turn given sources: appended query alone {appended}/"
          f"{len(OFF_TOPIC)}, with the question as typed also checked (chat) {wrongly_supported}/{len(OFF_TOPIC)}")
    for model, share in declines.items():
        print(f"declined {share:.0%} of {len(OFF_TOPIC)} off-topic questions under NO_SOURCE_INSTRUCTIONS: {model}")
    best = max(results, key=lambda name: (results[name][0], -results[name][1]))  # ties go to the faster one
    print(f"best: {best.split(' ')[0]}")


if __name__ == "__main__":
    main()
