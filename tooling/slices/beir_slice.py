#!/usr/bin/env python3
"""Write a small BEIR-format slice of a BEIR dataset: N judged queries of one split, every document
judged relevant to them, and M other documents — for runs whose evaluation must take minutes on a CPU
(the backbone-shape runs of issue 15: 20 SciFact test queries, their relevant abstracts, 80 others).

usage: beir_slice.py SOURCE_DIR OUT_DIR [--queries N] [--others M] [--split test] [--seed S]

Queries are the first N of the split's qrels in file order; the others are drawn without replacement
from the documents no chosen query judges, with Python's random.Random(seed), so a slice is the same
on every machine. Writes OUT_DIR/corpus.jsonl, queries.jsonl and qrels/<split>.tsv; the other splits'
qrels are not copied (they would judge documents the slice lacks).
"""

import argparse
import json
import os
import random
import sys


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source")
    ap.add_argument("out")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--others", type=int, default=80)
    ap.add_argument("--split", default="test")
    ap.add_argument("--seed", type=int, default=15)
    a = ap.parse_args()
    if a.queries < 1 or a.others < 0:
        sys.exit(f"beir_slice: --queries must be ≥ 1 and --others ≥ 0, got {a.queries} and {a.others}")
    qrels_path = os.path.join(a.source, "qrels", f"{a.split}.tsv")
    if not os.path.isfile(qrels_path):
        sys.exit(f"beir_slice: {qrels_path} does not exist (is {a.source} a BEIR folder with a {a.split} split?)")

    judged: dict[str, list[tuple[str, str]]] = {}
    with open(qrels_path, encoding="utf-8") as f:
        header = f.readline()
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            qid, did, score = parts
            if qid not in judged and len(judged) == a.queries:
                continue
            judged.setdefault(qid, []).append((did, score))
    if len(judged) < a.queries:
        sys.exit(f"beir_slice: {qrels_path} judges only {len(judged)} queries, {a.queries} asked")

    corpus = read_jsonl(os.path.join(a.source, "corpus.jsonl"))
    relevant = {did for pairs in judged.values() for did, _ in pairs}
    ids = {d["_id"] for d in corpus}
    missing = sorted(relevant - ids)
    if missing:
        sys.exit(f"beir_slice: qrels judge documents the corpus lacks: {', '.join(missing[:5])}")
    pool = [d["_id"] for d in corpus if d["_id"] not in relevant]
    if len(pool) < a.others:
        sys.exit(f"beir_slice: only {len(pool)} other documents, {a.others} asked")
    keep = relevant | set(random.Random(a.seed).sample(pool, a.others))

    os.makedirs(os.path.join(a.out, "qrels"), exist_ok=True)
    with open(os.path.join(a.out, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for d in corpus:
            if d["_id"] in keep:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    queries = {q["_id"]: q for q in read_jsonl(os.path.join(a.source, "queries.jsonl"))}
    with open(os.path.join(a.out, "queries.jsonl"), "w", encoding="utf-8") as f:
        for qid in judged:
            if qid not in queries:
                sys.exit(f"beir_slice: query {qid} is judged but not in queries.jsonl")
            f.write(json.dumps(queries[qid], ensure_ascii=False) + "\n")
    with open(os.path.join(a.out, "qrels", f"{a.split}.tsv"), "w", encoding="utf-8") as f:
        f.write(header)
        for qid, pairs in judged.items():
            for did, score in pairs:
                f.write(f"{qid}\t{did}\t{score}\n")
    print(f"{a.out}: {len(judged)} queries, {len(relevant)} relevant documents, {a.others} others")


if __name__ == "__main__":
    main()
