"""End-to-end throughput and memory of `samverdi suggest` against the bare model.

Usage:
    python scripts/bench_suggest.py [--model models/default] [--sizes 10000,50000]

Generates plain-text documents of N paragraphs (corpus segments, each made unique) and measures,
in the same run:

- the bare model: ``predict_proba`` + ``decide`` on the same texts, already in memory;
- the tool: ``samverdi suggest FILE --out out.jsonl`` in a child process (reading, segmenting,
  language id, evidence, writing), wall time and peak memory (max RSS).

The tool's overhead is (tool time - model time); the ratio tool/model says what the rest costs.
Peak memory should stay flat as N grows (streaming in batches).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

RUN_TOOL = r"""
import resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run([sys.executable, "-m", "samverdi_nlp", "suggest", sys.argv[1], "--model", sys.argv[2], "--out", sys.argv[3], "--quiet", "--force"], check=True)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def corpus_texts() -> list[str]:
    texts = []
    for path in sorted((REPO / "data" / "annotations" / "corpus").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            texts.append(" ".join(json.loads(line)["text"].split()))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--sizes", default="10000,50000")
    args = parser.parse_args()
    from samverdi_nlp.model import load_model

    base = corpus_texts()
    model = load_model(args.model)
    print(f"cores: {os.cpu_count()}; model {args.model} ({model.config.backend})")
    print("| paragraphs | bare model seg/s | suggest seg/s | tool/model time | overhead s | suggest peak MiB |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.sizes.split(",")]:
            texts = [f"{base[i % len(base)]} (avsnitt {i})" for i in range(n)]
            doc = Path(tmp) / f"plan_{n}.txt"
            doc.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
            t0 = time.perf_counter()
            for start in range(0, n, 2048):
                model.decide(model.predict_proba(texts[start : start + 2048]))
            model_s = time.perf_counter() - t0
            out = subprocess.run([sys.executable, "-c", RUN_TOOL, str(doc), str(args.model), str(Path(tmp) / "out.jsonl")],
                                 check=True, capture_output=True, text=True).stdout.split()
            tool_s, peak = float(out[0]), float(out[1])
            lines = sum(1 for _ in open(Path(tmp) / "out.jsonl", encoding="utf-8"))
            print(f"| {n:,} ({lines:,} segments) | {n / model_s:,.0f} | {lines / tool_s:,.0f} | {tool_s / model_s:.2f} | "
                  f"{tool_s - model_s:,.1f} | {peak:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
