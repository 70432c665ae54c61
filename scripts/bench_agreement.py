"""Benchmark the agreement statistics: time and memory, as ratios against baselines measured in the same run.

Usage: python scripts/bench_agreement.py [--units 2000] [--coders 3] [--boot 1000] [--seed 0]

Baselines:
- Krippendorff's alpha (nominal) from the ``krippendorff`` package (test extra), when installed;
- a naive bootstrap: resample rows and call the public ``krippendorff_alpha`` once per resample,
  against the vectorised bootstrap that ``bootstrap_ci`` and ``agreement_report`` use.
Synthetic data: every coder copies a hidden true code with probability 0.8, 10 % of cells missing.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from samverdi_nlp import agreement as ag
from samverdi_nlp.codebook import load_codebook


def _timed(func: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def synthetic_units(n_units: int, n_coders: int, n_values: int, rng: np.random.Generator) -> list[list[int | None]]:
    truth = rng.integers(0, n_values, n_units)
    units = []
    for value in truth:
        row: list[int | None] = []
        for _ in range(n_coders):
            if rng.random() < 0.1:
                row.append(None)
            else:
                row.append(int(value) if rng.random() < 0.8 else int(rng.integers(0, n_values)))
        units.append(row)
    return units


def synthetic_frame(n_units: int, coders: list[str], rng: np.random.Generator) -> pd.DataFrame:
    codebook = load_codebook()
    rows = []
    for i in range(n_units):
        truth = {d.id: (tuple(lab for lab in d.label_ids if rng.random() < 0.3) if d.multi_label else str(rng.choice(d.label_ids)))
                 for d in codebook.dimensions}
        for coder in coders:
            record = {"segment_id": f"u{i}", "coder": coder, "text": f"segment {i}"}
            for d in codebook.dimensions:
                if rng.random() < 0.8:
                    record[d.id] = truth[d.id]
                else:
                    record[d.id] = tuple(lab for lab in d.label_ids if rng.random() < 0.3) if d.multi_label else str(rng.choice(d.label_ids))
            rows.append(record)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--coders", type=int, default=3)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    units = synthetic_units(args.units, args.coders, 4, rng)
    print(f"data: {args.units} units x {args.coders} coders, 4 values, 10% missing; bootstrap {args.boot} resamples")

    ours_time, ours = _timed(lambda: ag.krippendorff_alpha(units).value)
    try:
        import krippendorff
    except ImportError:
        print("krippendorff package not installed: point-estimate baseline skipped")
    else:
        data = np.array([[np.nan if v is None else v for v in row] for row in units], dtype=float).T
        ref_time, ref = _timed(lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
        print(f"alpha point estimate: ours {ours_time * 1e3:.1f} ms, krippendorff package {ref_time * 1e3:.1f} ms "
              f"(ratio ours/package {ours_time / ref_time:.2f}); values {ours:.6f} vs {ref:.6f}")

    naive_boot = max(20, args.boot // 10)

    def naive() -> tuple[float, float]:
        local = np.random.default_rng(args.seed)
        values = []
        for _ in range(naive_boot):
            rows = local.integers(0, len(units), len(units))
            value = ag.krippendorff_alpha([units[r] for r in rows]).value
            if value is not None:
                values.append(value)
        low, high = np.quantile(values, [0.025, 0.975])
        return float(low), float(high)

    naive_time, naive_ci = _timed(naive, repeat=1)
    naive_per_resample = naive_time / naive_boot
    fast_time, fast_ci = _timed(lambda: ag.bootstrap_ci(units, "alpha", n_boot=args.boot, seed=args.seed), repeat=1)
    fast_per_resample = fast_time / args.boot
    print(f"bootstrap of alpha: naive loop {naive_per_resample * 1e3:.2f} ms/resample ({naive_boot} resamples, CI "
          f"{naive_ci[0]:.3f}-{naive_ci[1]:.3f}); vectorised {fast_per_resample * 1e3:.3f} ms/resample ({args.boot} resamples, "
          f"CI {fast_ci.low:.3f}-{fast_ci.high:.3f}); speed-up x{naive_per_resample / fast_per_resample:.0f}")

    coders = [f"coder{i}" for i in range(args.coders)]
    frame = synthetic_frame(args.units, coders, rng)
    codebook = load_codebook()
    point_time, _ = _timed(lambda: ag.agreement_report(frame, codebook, n_boot=0), repeat=1)
    tracemalloc.start()
    report_time, report = _timed(lambda: ag.agreement_report(frame, codebook, n_boot=args.boot, seed=args.seed), repeat=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_stats = sum(1 + len(e["labels"]) + len(e["pairs"]) for e in report.values())
    print(f"agreement_report, {len(codebook.dimensions)} dimensions, {n_stats} dimension/label/pair blocks: "
          f"{point_time:.2f} s without bootstrap, {report_time:.2f} s with {args.boot} resamples "
          f"(ratio {report_time / point_time:.1f}); peak traced memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
