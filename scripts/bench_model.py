"""Benchmark training and prediction per feature backend on the starter corpus.

Usage:
    python scripts/bench_model.py [--backends tfidf,embed,combined] [--repeat 2]

Each measurement runs in a fresh child process so peak memory (max RSS) is its own.
Prints training seconds, peak MiB and prediction throughput (segments/s) on 2,000
dev-test-like texts, with ratios against the TF-IDF backend measured in the same run.
Embeddings are cached by text hash; the first embed run pays for embedding, later runs
(and retraining) read the cache: both figures are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from samverdi_nlp.api import load_training_frame
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.model import CodingModel, ModelConfig, segment_text
backend, task = sys.argv[1], sys.argv[2]
cb = load_codebook()
ann = "data/annotations"
train = load_training_frame([ann + "/corpus", ann + "/double_coding"], cb)
t0 = time.perf_counter()
model = CodingModel(ModelConfig(backend=backend), cb).fit(train)
fit_s = time.perf_counter() - t0
out = {"fit_s": fit_s}
if task == "predict":
    test = load_training_frame(ann + "/devtest", cb)
    texts = [segment_text(a, b) for a, b in zip(test["title"], test["text"])]
    texts = (texts * (2000 // len(texts) + 1))[:2000]
    texts = [f"{t} ({i})" for i, t in enumerate(texts)]  # unique, so no embedding cache hits
    t0 = time.perf_counter()
    model.predict(texts)
    out["predict_per_s"] = len(texts) / (time.perf_counter() - t0)
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(backend: str, task: str) -> dict:
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-c", CHILD, backend, task], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="tfidf,embed,combined")
    parser.add_argument("--predict-backends", default="tfidf", help="backends whose predict throughput is measured (embedding 2,000 new texts is slow)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    rows = {}
    for backend in args.backends.split(","):
        task = "predict" if backend in args.predict_backends.split(",") else "fit"
        t0 = time.perf_counter()
        rows[backend] = child(backend, task)
        rows[backend]["wall_s"] = time.perf_counter() - t0
        print(f"{backend}: {json.dumps({k: round(v, 2) for k, v in rows[backend].items()})}", flush=True)
    base = rows.get("tfidf")
    print("\n| backend | train s | peak MiB | predict seg/s | train time vs tfidf |")
    print("|---|---|---|---|---|")
    for backend, r in rows.items():
        ratio = f"{r['fit_s'] / base['fit_s']:.1f}x" if base else ""
        pred = f"{r['predict_per_s']:.0f}" if "predict_per_s" in r else "-"
        print(f"| {backend} | {r['fit_s']:.1f} | {r['peak_mib']:.0f} | {pred} | {ratio} |")


if __name__ == "__main__":
    main()
