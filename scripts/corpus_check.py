"""Quick check for a corpus writer: label counts and shared 10-word sequences.

Usage: python scripts/corpus_check.py FILE.jsonl [--ngram 10]

Compares FILE with itself and with every other *.jsonl under data/annotations/.
Stdlib only, so it runs before the package is installed.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

DIMENSIONS = ("aspect", "level", "factor", "principle")
WORD = re.compile(r"\w+", re.UNICODE)


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def load(path: Path) -> list[dict]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                sys.exit(f"{path}:{lineno}: not valid JSON: {exc}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--ngram", type=int, default=10)
    args = parser.parse_args()
    rows = load(args.file)
    print(f"{len(rows)} segments in {args.file}")
    by_lang = collections.Counter(r.get("lang") for r in rows)
    print("languages:", dict(by_lang))
    for dim in DIMENSIONS:
        counts = collections.Counter(label for r in rows for label in r.get(dim, []))
        print(f"{dim}: {dict(sorted(counts.items()))}")
    print("relevance:", dict(collections.Counter(r.get("relevance") for r in rows)))
    none_factor = sum(1 for r in rows if not r.get("factor"))
    print(f"no factor: {none_factor} ({none_factor / max(len(rows), 1):.0%})")
    lengths = sorted(len(WORD.findall(r.get("text", ""))) for r in rows)
    if lengths:
        print(f"words per segment: min {lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]}")

    # Where each n-gram occurs: (file, segment_id).
    seen: dict[tuple[str, ...], tuple[str, str]] = {}
    root = Path(__file__).resolve().parent.parent / "data" / "annotations"
    others = [p for p in sorted(root.rglob("*.jsonl")) if p.resolve() != args.file.resolve()]
    for other in others:
        for r in load(other):
            if r.get("coder") not in (None, "author"):
                continue
            for g in ngrams(r.get("text", ""), args.ngram):
                seen.setdefault(g, (other.name, str(r.get("segment_id"))))
    shared = 0
    for r in rows:
        sid = str(r.get("segment_id"))
        for g in ngrams(r.get("text", ""), args.ngram):
            where = seen.get(g)
            if where and where[1] != sid:
                shared += 1
                print(f"SHARED {sid} ~ {where[0]}:{where[1]}: {' '.join(g)}")
            else:
                seen[g] = (args.file.name, sid)
    print(f"{shared} shared {args.ngram}-word sequences")


if __name__ == "__main__":
    main()
