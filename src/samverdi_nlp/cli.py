"""The ``samverdi`` command line: thin typer wrappers over library functions.

Each command parses options, calls one library function that returns data,
and prints or writes the result. Errors the user can fix (every
:class:`~samverdi_nlp.errors.SamverdiError`) become one line on stderr and a
non-zero exit code, never a traceback. Only this module imports everything;
nothing imports it.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from samverdi_nlp import __version__
from samverdi_nlp.annotations import validate
from samverdi_nlp.codebook import Codebook, load_codebook
from samverdi_nlp.errors import SamverdiError
from samverdi_nlp.io_utils import atomic_write

app = typer.Typer(
    name="samverdi",
    help="Code texts about co-creation (samskaping) in the public sector with the SAMVERDI scheme.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])

CodebookOption = Annotated[
    Path | None,
    typer.Option("--codebook", help="Codebook TOML file (default: the packaged SAMVERDI scheme).", exists=True, dir_okay=False),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn the library's errors into one-line messages with a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SamverdiError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted; nothing was half-written", 130) from None
        except MemoryError:
            raise fail("out of memory; split the input into smaller files", 3) from None

    return wrapper  # type: ignore[return-value]


def _codebook(path: Path | None) -> Codebook:
    return load_codebook(path)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"samverdi {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """Code texts about co-creation (samskaping) in the public sector with the SAMVERDI scheme."""


# --------------------------------------------------------------------------- codebook


class CodebookFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def codebook_markdown(cb: Codebook) -> str:
    """The codebook as Markdown: one section and one table per dimension."""
    lines = [f"# Codebook {cb.name} {cb.version}".rstrip(), ""]
    for dim in cb.dimensions:
        kind = "multi-label" if dim.multi_label else "single-label"
        lines += [f"## `{dim.id}` — {dim.name_en} / {dim.name_nb} ({kind})", "", dim.definition, ""]
        lines += ["| label | English | Norwegian | definition | cues |", "|---|---|---|---|---|"]
        for lab in dim.labels:
            cues = ", ".join(lab.cues)
            lines.append(f"| `{lab.id}` | {lab.name_en} | {lab.name_nb} | {lab.definition} | {cues} |")
        lines.append("")
    return "\n".join(lines)


def codebook_table(cb: Codebook) -> str:
    """The codebook as a plain-text table for the terminal."""
    rows = [("dimension", "label", "English", "Norwegian")]
    for dim in cb.dimensions:
        kind = "multi" if dim.multi_label else "single"
        for i, lab in enumerate(dim.labels):
            rows.append((f"{dim.id} ({kind})" if i == 0 else "", lab.id, lab.name_en, lab.name_nb))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


@app.command("codebook")
@handle_errors
def codebook_cli(
    codebook: CodebookOption = None,
    format: Annotated[CodebookFormat, typer.Option("--format", "-f", help="Output format.")] = CodebookFormat.table,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of the screen.")] = None,
) -> None:
    """Show the coding scheme (dimensions, labels, definitions, cues)."""
    cb = _codebook(codebook)
    if format is CodebookFormat.json:
        text = json.dumps(cb.to_dict(), ensure_ascii=False, indent=2)
    elif format is CodebookFormat.markdown:
        text = codebook_markdown(cb)
    else:
        text = codebook_table(cb)
    if out:
        with atomic_write(out) as fh:
            fh.write(text + "\n")
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text)


# --------------------------------------------------------------------------- validate


@app.command("validate")
@handle_errors
def validate_cli(
    paths: Annotated[list[Path], typer.Argument(help="Annotation tables (.csv .tsv .xlsx .jsonl) or folders of them.")],
    codebook: CodebookOption = None,
    coder: Annotated[str | None, typer.Option(help="Coder name for rows without a 'coder' column (default: the file name).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV/TSV/JSONL files (default: UTF-8, BOM-aware).")] = None,
) -> None:
    """Check annotation tables against the codebook; list every problem as file:row: column: message."""
    cb = _codebook(codebook)
    frame, problems = validate(paths, cb, coder=coder, encoding=encoding)
    for problem in problems:
        typer.echo(str(problem))
    n_files = frame["_file"].nunique() if "_file" in frame else 0
    summary = f"{len(frame)} rows, {frame['segment_id'].nunique() if len(frame) else 0} segments, {n_files} file(s)"
    if problems:
        typer.echo(f"{len(problems)} problem(s) found ({summary})", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {summary}", err=True)


# --------------------------------------------------------------------------- train / evaluate

DataOption = Annotated[
    list[Path],
    typer.Option("--data", "-d", help="Annotation tables or folders (repeatable). Default: data/annotations/corpus and data/annotations/double_coding.", exists=True),
]
DEFAULT_TRAIN_DATA = (Path("data/annotations/corpus"), Path("data/annotations/double_coding"))
DEFAULT_DEVTEST = Path("data/annotations/devtest")


def _progress(quiet: bool) -> Callable[[str], None] | None:
    return None if quiet else (lambda message: typer.echo(f"  {message}", err=True))


def _training_paths(data: list[Path] | None) -> list[Path]:
    if data:
        return data
    found = [p for p in DEFAULT_TRAIN_DATA if p.exists()]
    if not found:
        raise SamverdiError("no --data given and no data/annotations/corpus here; pass --data FILE_OR_FOLDER")
    return found


def _config(config: Path | None, backend: str | None, classifier: str | None, seed: int | None) -> Any:
    from samverdi_nlp.model import ModelConfig

    cfg = ModelConfig.from_file(config) if config else ModelConfig()
    if backend:
        cfg.backend = backend
    if classifier:
        cfg.classifier = classifier
    if seed is not None:
        cfg.seed = seed
    return cfg.check()


@app.command("train")
@handle_errors
def train_cli(
    data: DataOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")] = Path("models/custom"),
    codebook: CodebookOption = None,
    config: Annotated[Path | None, typer.Option(help="Model config JSON (see models/default/config.json).", exists=True, dir_okay=False)] = None,
    backend: Annotated[str | None, typer.Option(help="Feature backend: tfidf, embed or combined (overrides --config).")] = None,
    classifier: Annotated[str | None, typer.Option(help="logreg or svm (overrides --config).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (overrides --config).")] = None,
    coder: Annotated[str | None, typer.Option(help="Train on this coder's codes (default: adjudicated rows, else the only coder).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing model folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")] = False,
) -> None:
    """Train a classifier for every codebook dimension and save it as a safe model folder."""
    from samverdi_nlp.api import train

    cfg = _config(config, backend, classifier, seed)
    model = train(_training_paths(data), codebook=_codebook(codebook), config=cfg, coder=coder, progress=_progress(quiet))
    model.save(out, overwrite=force)
    typer.echo(f"wrote model to {out} ({model.profile_['n_segments']} segments, backend {cfg.backend}/{cfg.classifier})", err=True)


@app.command("evaluate")
@handle_errors
def evaluate_cli(
    data: DataOption = None,
    devtest: Annotated[Path | None, typer.Option(help="Held-out dev-test tables (default: data/annotations/devtest if present).", exists=True)] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Also score this trained model on the dev-test set (its config is used for cross-validation).")] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Folder for evaluation.md, evaluation.json and learning_curve.png.")] = Path("evaluation"),
    codebook: CodebookOption = None,
    config: Annotated[Path | None, typer.Option(help="Model config JSON.", exists=True, dir_okay=False)] = None,
    backend: Annotated[str | None, typer.Option(help="tfidf, embed or combined.")] = None,
    classifier: Annotated[str | None, typer.Option(help="logreg or svm.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    folds: Annotated[int, typer.Option("--folds", "-k", min=2, help="Cross-validation folds.")] = 5,
    coder: Annotated[str | None, typer.Option(help="Evaluate against this coder's codes.")] = None,
    learning_curve: Annotated[bool, typer.Option("--learning-curve/--no-learning-curve", help="Learning curve on the dev-test set.")] = True,
    transfer: Annotated[bool, typer.Option("--transfer/--no-transfer", help="Leave-one-language/register-out transfer scores.")] = False,
    record: Annotated[bool, typer.Option("--record", help="Store the summary in the --model's meta.json.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")] = False,
) -> None:
    """Cross-validate, score the dev-test set with baselines, and write Markdown + JSON + plot."""
    from samverdi_nlp.api import load_training_frame
    from samverdi_nlp.evaluate import evaluation_report, evaluation_summary
    from samverdi_nlp.model import ModelConfig, load_model, record_evaluation
    from samverdi_nlp.reports.evaluation import evaluation_markdown, plot_learning_curve

    cb = _codebook(codebook)
    fitted = None
    if model is not None:
        fitted = load_model(model, cb)
        cfg = ModelConfig.from_dict(fitted.meta_["config"])
    else:
        cfg = _config(config, backend, classifier, seed)
    train_frame = load_training_frame(_training_paths(data), cb, coder)
    devtest_path = devtest or (DEFAULT_DEVTEST if DEFAULT_DEVTEST.exists() else None)
    test_frame = load_training_frame(devtest_path, cb, coder) if devtest_path else None
    report = evaluation_report(train_frame, cb, cfg, devtest=test_frame, model=fitted, k=folds,
                               with_learning_curve=learning_curve, with_transfer=transfer, progress=_progress(quiet))
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(out_dir / "evaluation.json") as fh:
        fh.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    with atomic_write(out_dir / "evaluation.md") as fh:
        fh.write(evaluation_markdown(report) + "\n")
    if report.get("learning_curve"):
        plot_learning_curve(report["learning_curve"], out_dir / "learning_curve.png")
    if record:
        if model is None:
            raise fail("--record needs --model DIR")
        record_evaluation(model, evaluation_summary(report))
    summary = ", ".join(f"{d} {s['macro_f1']:.2f}" for d, s in report.get("devtest", report["cross_validation"])["model"].items())
    typer.echo(f"macro-F1: {summary}; wrote {out_dir}/evaluation.md", err=True)


# --------------------------------------------------------------------------- agreement / adjudicate


class AgreementFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


AgreementTablesArgument = Annotated[
    list[Path],
    typer.Argument(help="Annotation tables (one per coder, or one with a 'coder' column) or folders of them."),
]
CodersOption = Annotated[str | None, typer.Option("--coders", help="Only these coders, comma-separated (default: every coder).")]
DimensionsOption = Annotated[
    list[str] | None, typer.Option("--dimension", "-d", help="Only this dimension (repeatable; default: every coded dimension).")
]
EncodingOption = Annotated[str | None, typer.Option(help="Text encoding of CSV/TSV/JSONL files (default: UTF-8, BOM-aware).")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace existing output files (input tables are never replaced).")]


def _names(value: str | None) -> list[str] | None:
    names = [name.strip() for name in (value or "").split(",") if name.strip()]
    return names or None


def _check_output(target: Path, inputs: list[Path], force: bool) -> None:
    """Refuse, before any work, an output that is an input table, exists (without --force) or has no folder."""
    from samverdi_nlp.annotations import table_files
    from samverdi_nlp.errors import OutputError

    if target.resolve() in {p.resolve() for p in table_files(inputs) if p.exists()}:
        raise OutputError("is one of the input annotation tables; choose another output file", path=target)
    if target.exists() and not force:
        raise OutputError("already exists; choose another name or pass --force to replace it", path=target)
    if not target.parent.exists():
        raise OutputError(f"folder {target.parent} does not exist", path=target)


@app.command("agreement")
@handle_errors
def agreement_cli(
    paths: AgreementTablesArgument,
    codebook: CodebookOption = None,
    dimension: DimensionsOption = None,
    coders: CodersOption = None,
    format: Annotated[AgreementFormat, typer.Option("--format", "-f", help="Output format.")] = AgreementFormat.table,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report to this file instead of the screen.")] = None,
    disagreements_out: Annotated[
        Path | None,
        typer.Option("--disagreements", help="Also write every segment where coders differ, codes side by side (.csv .tsv .xlsx .jsonl)."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Add this model's suggestions as a coder: model-vs-each-coder next to coder-vs-coder.",
                     exists=True, file_okay=False),
    ] = None,
    model_name: Annotated[str, typer.Option(help="Coder name of the model's suggestions.")] = "model",
    n_boot: Annotated[int, typer.Option("--n-boot", min=0, help="Bootstrap resamples for the 95% intervals (0: no intervals).")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed: the same data and seed give the same intervals.")] = 0,
    encoding: EncodingOption = None,
    force: ForceOption = False,
) -> None:
    """Inter-coder agreement per dimension and label: percent agreement, Cohen's/Fleiss' κ, Krippendorff's α, Gwet's AC1, with bootstrap intervals."""
    from samverdi_nlp.agreement import add_model_coder, agreement_report, disagreements, unique_segments
    from samverdi_nlp.annotations import read_annotations
    from samverdi_nlp.errors import ModelError
    from samverdi_nlp.reports.agreement import format_report, write_disagreements

    cb = _codebook(codebook)
    for target in (out, disagreements_out):
        if target is not None:
            _check_output(target, paths, force)
    frame = read_annotations(paths, cb, encoding=encoding)
    chosen = _names(coders)
    scored = frame
    if model is not None:
        try:
            from samverdi_nlp.model import load_model
        except ImportError as exc:
            raise ModelError("this installation cannot load models (samverdi_nlp.model is missing); reinstall samverdi-nlp") from exc
        predictions = load_model(model, cb).predict(unique_segments(frame))
        scored = add_model_coder(frame, predictions, model_name, codebook=cb)
    report = agreement_report(scored, cb, dimensions=dimension, coders=chosen, model=model_name if model is not None else None,
                              n_boot=n_boot, seed=seed)
    text = format_report(report, format.value, cb)
    if disagreements_out is not None:
        table = disagreements(frame, cb, dimensions=dimension, coders=chosen)
        write_disagreements(table, disagreements_out, overwrite=force)
        typer.echo(f"wrote {len(table)} segment(s) where coders differ to {disagreements_out}", err=True)
    if out is not None:
        with atomic_write(out, overwrite=force) as fh:
            fh.write(text)
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text, nl=False)


@app.command("adjudicate")
@handle_errors
def adjudicate_cli(
    paths: AgreementTablesArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Final-codes table to write (.csv .tsv .xlsx .jsonl); feed it to 'samverdi train'.")],
    codebook: CodebookOption = None,
    dimension: DimensionsOption = None,
    coders: CodersOption = None,
    encoding: EncodingOption = None,
    force: ForceOption = False,
) -> None:
    """Prefill final codes with the coders' majority and flag ties (column 'tie', explained in 'note') for adjudication."""
    from samverdi_nlp.agreement import adjudicate
    from samverdi_nlp.annotations import read_annotations, write_annotations

    cb = _codebook(codebook)
    _check_output(out, paths, force)
    final = adjudicate(read_annotations(paths, cb, encoding=encoding), cb, coders=_names(coders), dimensions=dimension)
    write_annotations(final, out, cb, overwrite=force)
    ties = int((final["tie"] == "yes").sum())
    typer.echo(f"wrote {len(final)} segment(s) to {out}; {ties} with a tie to decide (column 'tie', details in 'note')", err=True)


# --------------------------------------------------------------------------- segment


class SegmentUnit(StrEnum):
    paragraph = "paragraph"
    sentence = "sentence"


class SourceKind(StrEnum):
    abstract = "abstract"
    plan = "plan"
    report = "report"
    other = "other"


# Inputs above this many bytes get a progress bar (unless --quiet).
LARGE_INPUT_BYTES = 2_000_000


@app.command("segment")
@handle_errors
def segment_cli(
    paths: Annotated[list[Path], typer.Argument(help="Documents (.pdf .docx .html .txt .md), reference exports (.ris .bib, Web of Science .txt, Scopus/ASReview .csv) or tables with a text column; folders are searched.", exists=True)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .csv, .jsonl or .xlsx.", dir_okay=False)],
    unit: Annotated[SegmentUnit, typer.Option("--unit", help="Paragraphs (the codebook's unit) or sentences.")] = SegmentUnit.paragraph,
    password: Annotated[str | None, typer.Option("--password", help="Password of encrypted PDFs.")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Encoding of text/CSV/RIS files that are not UTF-8 (e.g. cp1252).")] = None,
    source_kind: Annotated[SourceKind | None, typer.Option("--source-kind", help="Set the source kind instead of guessing it (documents: plan/report/other; references: abstract).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary line.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
) -> None:
    """Split documents and reference exports into the segments the tool codes, with their provenance."""
    from samverdi_nlp.errors import OutputError
    from samverdi_nlp.readers import input_files
    from samverdi_nlp.segments import SEGMENT_SUFFIXES, iter_segments, write_segments

    if out.suffix.lower() not in SEGMENT_SUFFIXES:
        raise fail(f"{out}: choose an output ending in {', '.join(SEGMENT_SUFFIXES)}")
    files = input_files(paths)
    if not files:
        raise fail("no readable files (.pdf .docx .html .txt .md .ris .bib .csv .tsv .xlsx .jsonl) in the given folders")
    if out.resolve() in {f.resolve() for f in files}:
        raise OutputError("is also an input; choose another output file", path=out)
    if out.exists() and not force:
        raise OutputError("already exists (it may hold coding); choose another name or pass --force to replace it", path=out)
    failed: list[str] = []
    done_bytes: dict[Path, int] = {}
    sizes = {f: f.stat().st_size if f.is_file() else 0 for f in files}
    bar = None
    if not quiet and sum(sizes.values()) >= LARGE_INPUT_BYTES:
        from tqdm import tqdm

        bar = tqdm(total=sum(sizes.values()), unit="B", unit_scale=True, desc="segmenting", file=sys.stderr, leave=False)

    def report_error(error: SamverdiError) -> None:
        failed.append(str(error.path))
        message = f"error: {error}"
        (bar.write(message, file=sys.stderr) if bar else typer.echo(message, err=True))

    def report_warning(warning: Any) -> None:
        message = f"warning: {warning}"
        (bar.write(message, file=sys.stderr) if bar else typer.echo(message, err=True))

    def progress(path: Path, fraction: float) -> None:
        if bar is not None:
            now = int(sizes.get(path, 0) * fraction)
            bar.update(max(0, now - done_bytes.get(path, 0)))
            done_bytes[path] = max(now, done_bytes.get(path, 0))

    segments = iter_segments(files, unit=unit.value, password=password, encoding=encoding, source_kind=source_kind.value if source_kind else None,
                             on_error=report_error, on_warning=report_warning, on_progress=progress)
    try:
        count = write_segments(segments, out, overwrite=force)
    finally:
        if bar is not None:
            bar.close()
    read = len(files) - len(failed)
    if count == 0:
        typer.echo(f"error: no segments found in {read} readable file(s); nothing written", err=True)
        raise typer.Exit(1)
    if not quiet:
        typer.echo(f"wrote {count} segment(s) from {read} file(s) to {out}", err=True)
    if failed:
        typer.echo(f"{len(failed)} of {len(files)} file(s) failed (see the errors above); the others were written", err=True)
        raise typer.Exit(1)


# --------------------------------------------------------------------------- suggest


class SuggestFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    jsonl = "jsonl"
    html = "html"
    labelstudio = "labelstudio"


class Unit(StrEnum):
    paragraph = "paragraph"
    sentence = "sentence"


def default_model_path() -> Path:
    """models/default in the current folder, else in the source checkout this package runs from."""
    here = Path("models/default")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "models" / "default"


ModelOption = Annotated[Path | None, typer.Option("--model", "-m", help="Model folder (default: models/default).")]


@app.command("suggest")
@handle_errors
def suggest_cli(
    inputs: Annotated[list[Path], typer.Argument(help="Documents (PDF, DOCX, HTML, TXT/MD), reference files (RIS, BibTeX, WoS, Scopus/ASReview CSV) or tables with a 'text' column.")],
    model: ModelOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file; the format follows its suffix (.html .csv .xlsx .jsonl; .json = Label Studio).")] = None,
    format: Annotated[SuggestFormat | None, typer.Option("--format", "-f", help="Output format (default: from --out, else html).")] = None,
    threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="One threshold for every multi-label code (default: each label's tuned threshold).")] = None,
    unit: Annotated[Unit, typer.Option(help="Segment documents into paragraphs or sentences.")] = Unit.paragraph,
    password: Annotated[str | None, typer.Option(help="Password for encrypted PDFs.")] = None,
    codebook: CodebookOption = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes for coding.")] = 1,
    evidence: Annotated[int, typer.Option("--evidence", min=0, help="Evidence words per suggested label (0 = none, faster).")] = 5,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Suggest codes for new documents, with scores, evidence words and a needs-review flag."""
    from tqdm import tqdm

    from samverdi_nlp.model import load_model
    from samverdi_nlp.reports.suggestions import format_from_path, open_writer
    from samverdi_nlp.segments import iter_segments
    from samverdi_nlp.suggest import iter_suggestions

    fmt = format_from_path(out, format.value if format else None) if out else (format.value if format else "html")
    suffix = {"labelstudio": "json"}.get(fmt, fmt)
    out = out or Path(f"suggestions.{suffix}")
    fitted = load_model(model or default_model_path(), _codebook(codebook) if codebook else None)
    failures: list[str] = []
    writer = open_writer(out, fmt, fitted.codebook_, overwrite=force)
    bar = tqdm(total=None, unit=" seg", disable=quiet, file=sys.stderr, desc="coding")
    try:
        segments = iter_segments(inputs, unit=unit.value, password=password, on_error=lambda err: failures.append(str(err)),
                                 on_warning=lambda w: typer.echo(f"warning: {w}", err=True))
        for record in iter_suggestions(fitted, segments, threshold=threshold, n_jobs=jobs, evidence_k=evidence,
                                       on_batch=bar.update):
            writer.write([record])
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    for message in failures:
        typer.echo(f"error: {message}", err=True)
    if writer.count == 0:
        writer.abort()
        raise fail("no segments to code; nothing written", 1)
    writer.close()
    typer.echo(f"wrote {writer.count} segments to {out}" + (f"; {len(failures)} file(s) failed" if failures else ""), err=True)
    if failures:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- screen

screen_app = typer.Typer(
    help="Screen new literature: rank references by relevance from the first record, learn from each decision, measure.",
    no_args_is_help=True,
)


class ScreenPrior(StrEnum):
    default = "default"
    none = "none"


class ScreenQuery(StrEnum):
    max = "max"
    uncertainty = "uncertainty"
    mixed = "mixed"


class SimulateQuery(StrEnum):
    max = "max"
    uncertainty = "uncertainty"
    mixed = "mixed"
    random = "random"


class Borderline(StrEnum):
    relevant = "relevant"
    exclude = "exclude"


class ScreenFormat(StrEnum):
    table = "table"
    json = "json"


class ExportKind(StrEnum):
    sheet = "sheet"
    decisions = "decisions"
    annotations = "annotations"


ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="Screening project folder (made by 'samverdi screen init').")]
ReviewerOption = Annotated[
    str | None, typer.Option("--reviewer", "-r", help="Your name, stored with each decision (default: $SAMVERDI_REVIEWER, else your login).")
]
PriorModelOption = Annotated[
    Path | None, typer.Option("--model", "-m", help="Model folder whose relevance head is the prior (default: models/default).")
]
DEFAULT_PROJECT = Path("screening")


def _reviewer(name: str | None) -> str:
    import getpass
    import os

    if name and name.strip():
        return name.strip()
    try:
        return os.environ.get("SAMVERDI_REVIEWER") or getpass.getuser()
    except (KeyError, OSError):
        raise fail("cannot tell who you are; pass --reviewer NAME") from None


def _open_project(project: Path, codebook: Path | None) -> Any:
    from samverdi_nlp.screening.project import ScreeningProject

    return ScreeningProject.open(project, _codebook(codebook) if codebook else None)


@screen_app.command("init")
@handle_errors
def screen_init_cli(
    refs: Annotated[list[Path], typer.Argument(help="Reference exports (RIS, BibTeX, Web of Science, Scopus/ASReview CSV) or tables with title/abstract or text columns.", exists=True)],
    project: ProjectOption = DEFAULT_PROJECT,
    prior: Annotated[ScreenPrior, typer.Option("--prior", help="Rank from the start with the model's relevance head (default), or with no prior.")] = ScreenPrior.default,
    model: PriorModelOption = None,
    query: Annotated[ScreenQuery, typer.Option("--query", "-q", help="Which records to show next.")] = ScreenQuery.max,
    refit_every: Annotated[int, typer.Option("--refit-every", min=1, help="Refit the ranking after this many decisions.")] = 1,
    borderline: Annotated[Borderline, typer.Option("--borderline", help="Whether borderline decisions count as relevant for the ranking.")] = Borderline.relevant,
    add: Annotated[bool, typer.Option("--add", help="Add these references to an existing project (duplicates are set aside).")] = False,
    codebook: CodebookOption = None,
    encoding: Annotated[str | None, typer.Option(help="Encoding of reference files that are not UTF-8 (e.g. cp1252).")] = None,
) -> None:
    """Start a screening project: import references (deduplicated), rank them with the prior."""
    from samverdi_nlp.screening.project import ScreeningProject, reference_rows

    failures: list[str] = []
    rows = reference_rows(refs, encoding=encoding, on_error=lambda err: failures.append(str(err)),
                          on_warning=lambda w: typer.echo(f"warning: {w}", err=True))
    for message in failures:
        typer.echo(f"error: {message}", err=True)
    if failures:
        raise fail(f"{len(failures)} of {len(refs)} file(s) could not be read; nothing was imported. Fix or leave them out and run again", 1)
    if add:
        with _open_project(project, codebook) as opened:
            summary = opened.add_references(rows)
            total = opened.store.n_records()
        typer.echo(f"added {summary.added} record(s) to {project} ({summary.duplicates} duplicate(s) set aside); {total} in all", err=True)
        return
    model_folder = None
    if prior is ScreenPrior.default:
        model_folder = model or default_model_path()
    elif model is not None:
        raise fail("--model is the prior; leave it out with --prior none")
    opened, summary = ScreeningProject.init(project, rows, model_folder=model_folder, codebook=_codebook(codebook) if codebook else None,
                                            query=query.value, refit_every=refit_every, borderline=borderline.value)
    with opened:
        n = opened.store.n_records()
    typer.echo(f"imported {summary.added} record(s) into {project} ({summary.duplicates} duplicate(s) set aside); "
               f"ranked by {'the prior model' if model_folder else 'no prior (import order until the first decisions)'}. "
               f"Next: samverdi screen next -p {project}", err=True)
    if n == 0:
        raise typer.Exit(1)


@screen_app.command("next")
@handle_errors
def screen_next_cli(
    project: ProjectOption = DEFAULT_PROJECT,
    n: Annotated[int, typer.Option("-n", "--number", min=1, help="How many records to show.")] = 5,
    query: Annotated[ScreenQuery | None, typer.Option("--query", "-q", help="Override the project's query strategy.")] = None,
    format: Annotated[ScreenFormat, typer.Option("--format", "-f", help="Output format.")] = ScreenFormat.table,
    codebook: CodebookOption = None,
) -> None:
    """Show the top unscreened records: title, authors, year, score, the words behind the score, abstract."""
    from samverdi_nlp.reports.screening import format_records, records_json

    with _open_project(project, codebook) as opened:
        frame = opened.next_records(n, query=query.value if query else None)
    if frame.empty:
        typer.echo("every record is screened; see 'samverdi screen status' and 'samverdi screen export'", err=True)
        return
    if format is ScreenFormat.json:
        typer.echo(json.dumps(records_json(frame), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_records(frame), nl=False)


@screen_app.command("label")
@handle_errors
def screen_label_cli(
    record_id: Annotated[int, typer.Argument(help="Record id (the number in brackets in 'screen next').")],
    decision: Annotated[str, typer.Argument(help="A relevance label of the codebook, e.g. include, borderline or exclude.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the decision and exported).")] = "",
    reviewer: ReviewerOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
    codebook: CodebookOption = None,
) -> None:
    """Record a decision on one record (stored before this command says so), then refit the ranking."""
    with _open_project(project, codebook) as opened:
        decision_id = opened.decide(record_id, decision, _reviewer(reviewer), reason=reason, origin="label")
        typer.echo(f"saved: record {record_id} {decision.strip().lower()} (decision {decision_id})", err=True)
        ranking = opened.refit()
    if ranking is not None:
        typer.echo(f"ranking refit on {ranking.n_decisions} decision(s) in {ranking.seconds:.2f} s", err=True)


def _review_keys(labels: tuple[str, ...]) -> dict[str, str]:
    """Keys for the decisions: 1, 2, 3... in codebook order, and each label's first letter when it is unambiguous."""
    reserved = {"s", "u", "q", "?"}
    keys = {str(i): label for i, label in enumerate(labels, 1)}
    initials = [label[0] for label in labels]
    for label in labels:
        if initials.count(label[0]) == 1 and label[0] not in reserved:
            keys[label[0]] = label
    return keys


def _read_key() -> str:
    """One key press: raw from the terminal, or the next character of piped input ('q' at its end)."""
    import click

    if sys.stdin.isatty():
        return click.getchar().lower()
    key = sys.stdin.read(1)
    while key in ("\n", "\r", " "):
        key = sys.stdin.read(1)
    return key.lower() or "q"


@screen_app.command("review")
@handle_errors
def screen_review_cli(
    project: ProjectOption = DEFAULT_PROJECT,
    reviewer: ReviewerOption = None,
    query: Annotated[ScreenQuery | None, typer.Option("--query", "-q", help="Override the project's query strategy.")] = None,
    codebook: CodebookOption = None,
) -> None:
    """Screen one record at a time with single keys: a decision, s skip, u undo, q quit. Every decision is saved at once."""
    import click

    from samverdi_nlp.reports.screening import format_record, records_json

    who = _reviewer(reviewer)
    with _open_project(project, codebook) as opened:
        keys = _review_keys(opened.rule.labels)
        legend = "  ".join(f"{k} {v}" for k, v in keys.items() if not k.isdigit()) or "  ".join(f"{k} {v}" for k, v in keys.items())
        legend += "   s skip  u undo  q quit"
        skipped: set[int] = set()
        done = 0
        message = ""
        while True:
            frame = opened.next_records(1, query=query.value if query else None, skip=skipped)
            if frame.empty:
                typer.echo("nothing left to screen" + (" (some records were skipped)" if skipped else ""))
                break
            record = records_json(frame)[0]
            if sys.stdout.isatty():
                click.clear()
                if message:  # what the last key did, so it is not cleared away unseen
                    typer.echo(f"({message})\n")
            typer.echo(format_record(record, abstract_chars=None))
            typer.echo(f"\n{legend}\n> ", nl=False)
            key = _read_key()
            typer.echo(key)
            if key in keys:
                label = keys[key]
                opened.decide(record["id"], label, who, origin="review")
                done += 1
                message = f"saved: record {record['id']} {label}"
                typer.echo(message)
                opened.refit()
            elif key == "s":
                skipped.add(record["id"])
                message = f"skipped record {record['id']} for this session"
            elif key == "u":
                undone = opened.store.undo_last(who)
                if undone is None:
                    message = "nothing of yours to undo"
                else:
                    skipped.discard(int(undone["record"]))
                    done -= 1
                    message = f"undone: record {undone['record']} {undone['label']} (it is open again)"
                    opened.refit()
                typer.echo(message)
            elif key in ("q", "\x03", "\x04"):
                break
            else:
                typer.echo(f"unknown key {key!r}; {legend}")
    typer.echo(f"{done} decision(s) saved this session", err=True)


def _export_kind(out: Path, kind: ExportKind | None) -> ExportKind:
    if kind is not None:
        return kind
    suffix = out.suffix.lower()
    if suffix == ".xlsx":
        return ExportKind.sheet
    if suffix in (".csv", ".tsv", ".ris"):
        return ExportKind.decisions
    if suffix == ".jsonl":
        return ExportKind.annotations
    raise fail(f"{out}: cannot tell what to export from the suffix {suffix or '(none)'}; use .xlsx (sheet), .csv/.tsv/.ris "
               "(decisions) or .jsonl (annotation table), or pass --kind")


@screen_app.command("export")
@handle_errors
def screen_export_cli(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write: .xlsx sheet, .csv/.tsv/.ris decisions, .jsonl annotation table.", dir_okay=False)],
    project: ProjectOption = DEFAULT_PROJECT,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Sheets: how many of the top unscreened records (default 50).")] = None,
    kind: Annotated[ExportKind | None, typer.Option("--kind", help="sheet (to fill in), decisions (ASReview-compatible labels) or annotations (train the next model).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
    codebook: CodebookOption = None,
) -> None:
    """Export a screening sheet for spreadsheet users, the decisions (CSV/RIS with ASReview labels), or an annotation table."""
    from samverdi_nlp.annotations import write_annotations
    from samverdi_nlp.errors import OutputError
    from samverdi_nlp.reports.screening import write_decisions_csv, write_decisions_ris, write_sheet

    chosen = _export_kind(out, kind)
    if out.exists() and not force:
        raise OutputError("already exists (it may hold decisions); choose another name or pass --force to replace it", path=out)
    if top is not None and chosen is not ExportKind.sheet:
        raise fail("--top is for screening sheets (.xlsx or --kind sheet); decisions and annotation tables hold every record")
    with _open_project(project, codebook) as opened:
        if chosen is ExportKind.sheet:
            if out.suffix.lower() != ".xlsx":
                raise fail(f"{out}: a screening sheet is an Excel file; name it .xlsx")
            frame = opened.sheet_records(top or 50)
            write_sheet(frame, out, opened.rule.labels, overwrite=force)
            typer.echo(f"wrote the top {len(frame)} unscreened record(s) to {out}; fill in 'decision' "
                       f"({', '.join(opened.rule.labels)}) and run: samverdi screen import {out} -p {project}", err=True)
        elif chosen is ExportKind.decisions:
            frame = opened.decisions_table()
            if out.suffix.lower() == ".ris":
                write_decisions_ris(frame, out, overwrite=force)
            elif out.suffix.lower() in (".csv", ".tsv"):
                write_decisions_csv(frame, out, overwrite=force)
            else:
                raise fail(f"{out}: decisions are written as .csv, .tsv or .ris")
            screened = int(frame["relevance"].notna().sum())
            where = "notes 'ASReview_relevant'/'ASReview_irrelevant'" if out.suffix.lower() == ".ris" else "column 'included'"
            typer.echo(f"wrote {len(frame)} record(s), {screened} screened, to {out} (ASReview labels in {where})", err=True)
        else:
            frame = opened.annotation_frame()
            if frame.empty:
                raise fail("no decisions yet; nothing to export as an annotation table", 1)
            write_annotations(frame, out, opened.codebook, overwrite=force)
            typer.echo(f"wrote {len(frame)} screened record(s) with their 'relevance' code to {out}; "
                       "add it to 'samverdi train --data' to train the next model on them", err=True)


@screen_app.command("import")
@handle_errors
def screen_import_cli(
    sheet: Annotated[Path, typer.Argument(help="A filled-in screening sheet (.xlsx or .csv with 'id' and 'decision' columns).", exists=True, dir_okay=False)],
    project: ProjectOption = DEFAULT_PROJECT,
    reviewer: ReviewerOption = None,
    replace: Annotated[bool, typer.Option("--replace", help="Let the sheet change decisions already stored (the old ones stay in the log).")] = False,
    codebook: CodebookOption = None,
) -> None:
    """Import the decisions filled in a screening sheet (all or nothing), then refit the ranking."""
    with _open_project(project, codebook) as opened:
        decisions = opened.read_sheet(sheet, reviewer=_reviewer(reviewer))
        result = opened.import_decisions(decisions, origin=f"import:{sheet.name}", replace=replace)
        if result["imported"]:
            opened.refit(force=True)
    typer.echo(f"imported {result['imported']} decision(s) from {sheet}; {result['unchanged']} unchanged", err=True)
    if result["conflicts"]:
        shown = ", ".join(f"record {c['record']} (stored {c['stored']}, sheet {c['sheet']})" for c in result["conflicts"][:10])
        typer.echo(f"{len(result['conflicts'])} decision(s) differ from the stored ones and were left as they are: {shown}; "
                   "pass --replace to take the sheet's", err=True)
        raise typer.Exit(1)


@screen_app.command("status")
@handle_errors
def screen_status_cli(
    project: ProjectOption = DEFAULT_PROJECT,
    format: Annotated[ScreenFormat, typer.Option("--format", "-f", help="Output format.")] = ScreenFormat.table,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write the recall curve (relevant found vs screened) as a PNG.", dir_okay=False)] = None,
    codebook: CodebookOption = None,
) -> None:
    """Where screening stands: records screened, relevant found, an estimate of relevant records left, a stopping suggestion."""
    from samverdi_nlp.reports.screening import format_status, plot_recall_curves, status_json

    with _open_project(project, codebook) as opened:
        status = opened.status()
    if plot is not None:
        total = status["relevant_found"] + status["estimated_relevant_left"]
        plot_recall_curves({"decisions so far": status["relevant_in_order"]}, plot, title=f"Screening progress ({project.name})",
                           expected_total=total)
        typer.echo(f"wrote {plot}", err=True)
    if format is ScreenFormat.json:
        typer.echo(json.dumps(status_json(status), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_status(status), nl=False)


@screen_app.command("simulate")
@handle_errors
def screen_simulate_cli(
    labelled_file: Annotated[Path, typer.Argument(help="Labelled references: a table with a 'relevance' (include/borderline/exclude) or ASReview 0/1 'included'/'label_included' column, or an ASReview RIS export.", exists=True, dir_okay=False)],
    prior: Annotated[ScreenPrior, typer.Option("--prior", help="Start from the model's relevance head (default) or from nothing.")] = ScreenPrior.default,
    model: PriorModelOption = None,
    query: Annotated[SimulateQuery, typer.Option("--query", "-q", help="Query strategy (random = the baseline).")] = SimulateQuery.max,
    seed: Annotated[int, typer.Option(help="Seed for the seed records and random choices: same data and seed, same result.")] = 0,
    n_seed_relevant: Annotated[int | None, typer.Option("--seed-relevant", min=0, help="Relevant records known before screening (default: 0 with a prior, 1 without).")] = None,
    n_seed_irrelevant: Annotated[int | None, typer.Option("--seed-irrelevant", min=0, help="Irrelevant records known before screening (default: 0 with a prior, 1 without).")] = None,
    refit_every: Annotated[int, typer.Option("--refit-every", min=1, help="Refit after this many decisions.")] = 1,
    borderline: Annotated[Borderline, typer.Option("--borderline", help="Count borderline as relevant (default) or as exclude.")] = Borderline.relevant,
    format: Annotated[ScreenFormat, typer.Option("--format", "-f", help="Output format.")] = ScreenFormat.table,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write the recall curve as a PNG.", dir_okay=False)] = None,
    codebook: CodebookOption = None,
    encoding: Annotated[str | None, typer.Option(help="Encoding of a labelled file that is not UTF-8.")] = None,
) -> None:
    """Replay known decisions: WSS@95, WSS@100, recall after 10/25/50 %, records screened to find 95 %, a recall curve."""
    from samverdi_nlp.reports.screening import format_simulation, plot_recall_curves, simulation_json
    from samverdi_nlp.screening.rule import ScreeningRule
    from samverdi_nlp.screening.simulate import read_labelled, simulate_labelled

    fitted = None
    if prior is ScreenPrior.default:
        from samverdi_nlp.model import load_model

        fitted = load_model(model or default_model_path(), _codebook(codebook) if codebook else None)
        cb = fitted.codebook_
    elif model is not None:
        raise fail("--model is the prior; leave it out with --prior none")
    else:
        cb = _codebook(codebook)
    rule = ScreeningRule.from_codebook(cb, borderline.value)
    records = read_labelled(labelled_file, rule, encoding=encoding)
    default_seeds = 0 if fitted is not None else 1
    result, in_order = simulate_labelled(
        records, rule, model=fitted, query=query.value, seed=seed, refit_every=refit_every,
        n_seed_relevant=default_seeds if n_seed_relevant is None else n_seed_relevant,
        n_seed_irrelevant=default_seeds if n_seed_irrelevant is None else n_seed_irrelevant,
    )
    result.update({"prior": prior.value, "query": query.value, "borderline": borderline.value, "seed": seed,
                   "label_column": records.label_column, "file": str(labelled_file)})
    if plot is not None:
        plot_recall_curves({f"samverdi ({prior.value} prior, {query.value})": in_order}, plot,
                           title=f"Recall curve: {labelled_file.name}")
        typer.echo(f"wrote {plot}", err=True)
    typer.echo(simulation_json(result) if format is ScreenFormat.json else format_simulation(result), nl=False)


app.add_typer(screen_app, name="screen")


def main() -> None:
    """Entry point of the ``samverdi`` console script."""
    try:
        app()
    except SamverdiError as exc:  # a library error outside a wrapped command
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
