"""Benchmark the readers: PDF pages/s and peak memory, RIS references/s, memory on a very long PDF.

Usage: python scripts/bench_readers.py [--pages 300] [--large-pages 2000] [--records 10000] [--workdir DIR]

Inputs are generated (text written for the benchmark, with æøå). Each
measurement runs in a fresh Python process so its peak resident memory
(ru_maxrss) is its own. Baselines measured in the same run:

- PDF: pypdf's plain ``page.extract_text()`` over every page, without
  layout cues, furniture removal, segmentation or language id.
- RIS: ``rispy.loads`` on the whole file at once.
- Memory: a process that only imports the package.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = (
    "kommunen innbyggerne samskaping frivillige lag foreninger tjenester nærmiljø planen tiltak ungdomsrådet "
    "eldrerådet møteplasser bydelene samarbeid ledelse mandat budsjett evaluering læring tillit og i på for med "
    "som skal vil kan til av det er de en et å få være gjøre nye flere alle hvert år arbeidet sammen"
).split()


ENGLISH = (
    "the municipality citizens co-creation volunteers associations services neighbourhood plan measures youth council "
    "managers leadership mandate budget evaluation learning trust and in on for with which will can to of it is they "
    "a an be new more all each year work together this study article findings interviews public value"
).split()


def sentence(rng: random.Random, words: list[str] = WORDS) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(8, 24))).capitalize() + "."


def make_pdf(path: Path, pages: int, seed: int = 1) -> None:
    from fpdf import FPDF

    rng = random.Random(seed)

    class Plan(FPDF):
        def header(self) -> None:
            self.set_font("body", "", 8)
            self.cell(0, 5, "Kommuneplan for Fjellvik 2024–2036", new_x="LMARGIN", new_y="NEXT")
            self.ln(3)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("body", "", 8)
            self.cell(0, 8, f"Side {self.page_no()}", align="C")

    pdf = Plan()
    pdf.set_auto_page_break(False)
    pdf.add_font("body", "", FONT)
    for number in range(pages):
        pdf.add_page()
        pdf.set_font("body", "", 13)
        pdf.cell(0, 8, f"{number + 1} Tema for side {number + 1}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("body", "", 10)
        for _ in range(4):
            pdf.multi_cell(0, 5, " ".join(sentence(rng) for _ in range(4)), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))


def make_ris(path: Path, records: int, seed: int = 2) -> None:
    """A reference export like a database's: four in five records in English, the rest in Norwegian."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(records):
            words = WORDS if number % 5 == 0 else ENGLISH
            handle.write(f"TY  - JOUR\nAU  - Forfatter{number}, Kari\nTI  - {sentence(rng, words)[:-1]}\nT2  - Journal of Co-creation\n"
                         f"PY  - {2000 + number % 25}\nDO  - 10.9999/bench.{number}\nAB  - {' '.join(sentence(rng, words) for _ in range(6))}\nER  - \n\n")


CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode in ("idle", "segments"):
    import samverdi_nlp.segments  # noqa: F401  (imports are not timed; loading lingua's models is)
start = time.perf_counter()
count = 0
if mode == "idle":
    pass
elif mode == "pypdf":
    from pypdf import PdfReader
    reader = PdfReader(path)
    for page in reader.pages:
        page.extract_text()
        count += 1
elif mode == "rispy":
    import rispy
    count = len(rispy.loads(open(path, encoding="utf-8").read()))
else:
    from samverdi_nlp.segments import iter_segments
    for segment in iter_segments([path], on_warning=lambda w: None):
        count += 1
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "count": count, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(mode: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--large-pages", type=int, default=2000)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="samverdi-bench-"))
    pdf, large, ris = workdir / f"plan_{args.pages}.pdf", workdir / f"plan_{args.large_pages}.pdf", workdir / f"refs_{args.records}.ris"
    start = time.perf_counter()
    for path, maker in ((pdf, lambda p: make_pdf(p, args.pages)), (large, lambda p: make_pdf(p, args.large_pages)),
                        (ris, lambda p: make_ris(p, args.records))):
        if not path.exists():
            maker(path)
    print(f"inputs in {workdir} (made in {time.perf_counter() - start:.0f} s): "
          f"{pdf.stat().st_size / 2**20:.1f} MiB, {large.stat().st_size / 2**20:.1f} MiB, {ris.stat().st_size / 2**20:.1f} MiB")

    idle = run("idle", pdf)
    print(f"\nbaseline process (imports only): peak {idle['peak_mib']:.0f} MiB")

    base = run("pypdf", pdf)
    ours = run("segments", pdf)
    print(f"\nPDF, {args.pages} pages")
    print(f"  pypdf extract_text only : {args.pages / base['seconds']:6.1f} pages/s, peak {base['peak_mib']:.0f} MiB")
    print(f"  samverdi segments       : {args.pages / ours['seconds']:6.1f} pages/s, peak {ours['peak_mib']:.0f} MiB, "
          f"{ours['count']} segments")
    print(f"  ratio speed samverdi/pypdf: {base['seconds'] / ours['seconds']:.2f}; "
          f"memory above idle: {ours['peak_mib'] - idle['peak_mib']:.0f} MiB")

    big = run("segments", large)
    big_base = run("pypdf", large)
    print(f"\nPDF, {args.large_pages} pages")
    print(f"  pypdf extract_text only : {args.large_pages / big_base['seconds']:6.1f} pages/s, peak {big_base['peak_mib']:.0f} MiB")
    print(f"  samverdi segments       : {args.large_pages / big['seconds']:6.1f} pages/s, peak {big['peak_mib']:.0f} MiB, "
          f"{big['count']} segments")
    grown = (big["peak_mib"] - idle["peak_mib"]) / max(ours["peak_mib"] - idle["peak_mib"], 1e-9)
    print(f"  memory above idle, {args.large_pages} vs {args.pages} pages: x{grown:.2f} for x{args.large_pages / args.pages:.1f} the pages")

    base = run("rispy", ris)
    ours = run("segments", ris)
    print(f"\nRIS, {args.records} records")
    print(f"  rispy.loads whole file  : {base['count'] / base['seconds']:8,.0f} references/s, peak {base['peak_mib']:.0f} MiB")
    print(f"  samverdi segments       : {ours['count'] / ours['seconds']:8,.0f} references/s, peak {ours['peak_mib']:.0f} MiB")
    print(f"  ratio speed samverdi/rispy: {base['seconds'] / ours['seconds']:.2f}")


if __name__ == "__main__":
    main()
