"""Screening: query strategies, the prior-offset ranker, WSS/recall, the SQLite project under crashes and
concurrent reviewers, and every `samverdi screen` command as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import rispy
import scipy.sparse as sp
from typer.testing import CliRunner

from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.cli import app
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.errors import ScreeningError
from samverdi_nlp.screening.project import ScreeningProject
from samverdi_nlp.screening.queries import QUERY_STRATEGIES, MixedQuery, get_query_strategy
from samverdi_nlp.screening.ranker import PriorRanker, ScreeningFeatures, logit
from samverdi_nlp.screening.rule import ScreeningRule
from samverdi_nlp.screening.simulate import (
    choose_seeds,
    recall_at,
    replay,
    replay_summary,
    screened_to_recall,
    screening_metrics,
    wss,
)
from samverdi_nlp.screening.stopping import StoppingRule, advise
from samverdi_nlp.screening.store import DB_NAME, ScreeningStore

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "screening"
runner = CliRunner()
N_REFS = 60


def run(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def corpus_abstracts(n: int = N_REFS) -> pd.DataFrame:
    """Team-written abstracts from the starter corpus: a balanced mix of the three relevance labels."""
    frame = read_annotations(REPO / "data" / "annotations" / "corpus", load_codebook())
    frame = frame[(frame["source_kind"] == "abstract") & (frame["coder"] != "")].drop_duplicates("segment_id")
    per_label = [group.sort_values("segment_id").head(n // 3) for _, group in frame.groupby("relevance")]
    return pd.concat(per_label).sort_values("segment_id").reset_index(drop=True)


def write_ris(frame: pd.DataFrame, path: Path, *, labels: bool = False, first_doi: int = 1) -> Path:
    from samverdi_nlp.reports.screening import _plain_ris_writer

    entries = []
    for i, row in enumerate(frame.itertuples(), 1):
        entry = {"type_of_reference": "JOUR", "id": row.segment_id, "title": row.title, "abstract": row.text,
                 "authors": [f"Author{i}, A.", "Berg, B."], "year": str(2011 + i % 12), "doi": f"10.9999/sv.{first_doi + i - 1:04d}"}
        if labels:
            entry["notes"] = ["ASReview_relevant" if row.relevance in ("include", "borderline") else "ASReview_irrelevant"]
        entries.append(entry)
    path.write_text(rispy.dumps(entries, implementation=_plain_ris_writer()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def abstracts() -> pd.DataFrame:
    return corpus_abstracts()


@pytest.fixture(scope="module")
def refs(tmp_path_factory, abstracts) -> Path:
    """A reference file with one duplicate (same DOI, retyped title) at the end."""
    folder = tmp_path_factory.mktemp("refs")
    frame = pd.concat([abstracts, abstracts.head(1).assign(segment_id="dup", title=abstracts.title[0].upper())])
    path = write_ris(frame, folder / "scopus_hits.ris")
    text = path.read_text(encoding="utf-8")
    last_doi = f"10.9999/sv.{len(frame):04d}"
    path.write_text(text.replace(last_doi, "10.9999/sv.0001"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base_project(tmp_path_factory, refs, small_model_dir) -> Path:
    folder = tmp_path_factory.mktemp("base") / "review"
    result = run("screen", "init", refs, "--project", folder, "--model", small_model_dir)
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def project(base_project, tmp_path) -> Path:
    """A fresh copy of the initialised project for each test."""
    folder = tmp_path / "review"
    shutil.copytree(base_project, folder)
    return folder


def decisions_of(folder: Path) -> pd.DataFrame:
    with ScreeningStore.open(folder) as store:
        return store.current_decisions()


# --------------------------------------------------------------------------- query strategies


@pytest.mark.parametrize("name", sorted(QUERY_STRATEGIES))
def test_query_returns_unlabelled_records_only_and_is_stateless(name):
    rng = np.random.default_rng(1)
    scores = rng.random(40)
    labelled = rng.random(40) < 0.3
    strategy = get_query_strategy(name, seed=7)
    picks = strategy.query(scores, labelled, 5)
    assert len(picks) == 5 and len(set(picks.tolist())) == 5
    assert not labelled[picks].any()
    # no hidden state: another call in between changes nothing
    strategy.query(scores, ~labelled, 3)
    assert strategy.query(scores, labelled, 5).tolist() == picks.tolist()
    assert get_query_strategy(name, seed=7).query(scores, labelled, 5).tolist() == picks.tolist()
    # asking for more than is left returns what is left
    assert sorted(strategy.query(scores, labelled, 100).tolist()) == np.flatnonzero(~labelled).tolist()


def test_query_orders():
    scores = np.array([0.1, 0.97, 0.52, 0.8, 0.45, 0.99])
    labelled = np.array([False, False, False, False, False, True])
    assert get_query_strategy("max").query(scores, labelled, 3).tolist() == [1, 3, 2]
    assert get_query_strategy("uncertainty").query(scores, labelled, 3).tolist() == [2, 4, 3]
    # mixed, every 3rd: one record is labelled, so the 2nd pick is the 3rd record screened and comes from uncertainty
    assert MixedQuery(every=3).query(scores, labelled, 3).tolist() == [1, 2, 3]


def test_unknown_query_strategy_lists_the_known_ones():
    with pytest.raises(ScreeningError, match="choose one of: max, uncertainty, mixed, random"):
        get_query_strategy("most_certain")


# --------------------------------------------------------------------------- metrics


def test_metrics_of_a_perfect_and_a_worst_order():
    perfect = [True] * 10 + [False] * 90
    m = screening_metrics(perfect)
    assert m["screened_to_95"] == 10  # ceil(0.95 * 10) = 10 relevant
    assert m["wss_95"] == pytest.approx(0.90 - 0.05)
    assert m["wss_100"] == pytest.approx(0.90)
    assert m["recall_at_10"] == 1.0
    worst = perfect[::-1]
    assert screening_metrics(worst)["wss_100"] == 0.0
    assert screening_metrics(worst)["recall_at_50"] == 0.0


def test_metrics_by_hand():
    # 4 relevant of 20: found at positions 1, 3, 8, 15
    order = [False] * 20
    for position in (1, 3, 8, 15):
        order[position - 1] = True
    assert screened_to_recall(order, 0.95) == 15  # ceil(3.8) = 4 relevant needed
    assert screened_to_recall(order, 0.5) == 3
    assert wss(order, 0.95) == pytest.approx(5 / 20 - 0.05)
    assert recall_at(order, 0.10) == 0.25  # 2 records screened: only position 1 is relevant
    assert recall_at(order, 0.25) == 0.5  # 5 records: positions 1 and 3
    assert recall_at(order, 0.50) == 0.75


def test_metrics_need_both_classes():
    with pytest.raises(ScreeningError, match="relevant and irrelevant"):
        screening_metrics([True, True])


# --------------------------------------------------------------------------- ranker


def _toy():
    texts = ["co-creation leadership municipality council", "co-creation leadership municipality mayor",
             "brand marketing customer value", "brand marketing customer loyalty", "municipality leadership trust",
             "customer brand product design"]
    X = ScreeningFeatures().fit_transform(texts)
    return texts, X


def test_ranker_with_no_decisions_is_the_prior():
    _, X = _toy()
    prior = np.array([0.9, 0.2, 0.6, 0.4, 0.5, 0.1])
    ranker = PriorRanker().fit(X[:0], np.zeros(0), logit(prior)[:0])
    assert ranker.predict_proba(X, logit(prior)) == pytest.approx(prior)


def test_one_exclusion_moves_similar_records_down():
    _, X = _toy()
    prior = np.full(6, 0.5)
    ranker = PriorRanker(C=10).fit(X[[2]], np.array([0]), logit(prior[[2]]))
    scores = ranker.predict_proba(X, logit(prior))
    assert scores[3] < scores[0] and scores[5] < scores[4]  # the other marketing records sink


@pytest.mark.parametrize("balanced", [True, False])
def test_ranker_learns_without_a_prior_and_is_deterministic(balanced):
    _, X = _toy()
    y = np.array([1, 0])
    first = PriorRanker(C=10, balanced=balanced).fit(X[[0, 2]], y).predict_proba(X)
    again = PriorRanker(C=10, balanced=balanced).fit(X[[0, 2]], y).predict_proba(X)
    assert first.tolist() == again.tolist()
    assert first[1] > 0.5 > first[3]


def test_replay_is_deterministic_and_beats_random_on_separable_data():
    rng = np.random.default_rng(0)
    relevant = np.zeros(200, dtype=bool)
    relevant[rng.choice(200, 20, replace=False)] = True
    dense = rng.normal(0, 1, (200, 30))
    dense[relevant, :5] += 2.5
    X = sp.csr_matrix(dense)
    seeds = choose_seeds(relevant, 1, 1, seed=3)
    ours = replay(relevant, X, None, seed=3, seed_indices=seeds, refit_every=5)
    again = replay(relevant, X, None, seed=3, seed_indices=seeds, refit_every=5)
    assert ours.order.tolist() == again.order.tolist()
    assert sorted(ours.order.tolist()) == list(range(200))
    assert ours.order[:2].tolist() == seeds
    baseline = replay(relevant, X, None, query="random", seed=3, seed_indices=seeds, refit_every=5)
    assert replay_summary(ours)["wss_95"] > replay_summary(baseline)["wss_95"] + 0.3


# --------------------------------------------------------------------------- the screening rule and stopping


def test_rule_comes_from_the_codebook():
    rule = ScreeningRule.from_codebook(load_codebook(FIXTURES / "two_label_codebook.toml"))
    assert (rule.positive, rule.negative, rule.relevant) == ("ja", "nei", frozenset({"ja"}))
    with pytest.raises(ScreeningError, match="unknown decision 'include'; choose one of: ja, nei"):
        rule.check_label("include")
    with pytest.raises(ScreeningError, match="no single-label 'relevance' dimension"):
        ScreeningRule.from_codebook(load_codebook(FIXTURES / "relevance_multi_label_codebook.toml"))


@pytest.mark.parametrize(("n_irrelevant_run", "screened_extra", "stop"), [(19, 100, False), (20, 100, True), (30, 0, False)])
def test_stopping_rule(n_irrelevant_run, screened_extra, stop):
    decisions = [True] * screened_extra + [False] * n_irrelevant_run
    assert advise(decisions, 400, StoppingRule()).stop is stop  # needs 40 screened and a run of 20


# --------------------------------------------------------------------------- the store


def test_store_is_wal_and_keeps_a_decision_log(tmp_path):
    with ScreeningStore.create(tmp_path / "p", {"prior": "none"}) as store:
        summary = store.add_records([{"segment_id": "a", "title": "Co-creation in local government", "text": "x"},
                                     {"segment_id": "b", "title": "CO-CREATION IN LOCAL GOVERNMENT!", "text": "y"},
                                     {"segment_id": "c", "title": "", "text": "z", "doi": "10.1/A"},
                                     {"segment_id": "d", "title": "", "text": "w", "doi": "10.1/a"}])
        assert (summary.added, summary.duplicates) == (2, 2)
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.decide(1, "include", "kari")
        store.decide(1, "exclude", "ola", reason="marketing")
        assert store.current_decisions()[["record", "label", "reviewer"]].values.tolist() == [[1, "exclude", "ola"]]
        assert store.undo_last("ola")["label"] == "exclude"
        assert store.current_decisions()["label"].tolist() == ["include"]  # kari's decision stands again
        assert len(store.decision_log()) == 2 and store.decision_version() == 3
        assert store.undo_last("nobody") is None


def test_store_refuses_what_is_not_a_project(tmp_path):
    with pytest.raises(ScreeningError, match="is not a screening project"):
        ScreeningStore.open(tmp_path)
    (tmp_path / DB_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(ScreeningError, match="not a screening project database"):
        ScreeningStore.open(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    sqlite3.connect(other / DB_NAME).execute("CREATE TABLE meta (key TEXT, value TEXT)").connection.commit()
    with pytest.raises(ScreeningError, match="not a samverdi screening project"):
        ScreeningStore.open(other)


WRITER = textwrap.dedent("""
    import sys
    from samverdi_nlp.screening.store import ScreeningStore
    folder, reviewer, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with ScreeningStore.open(folder) as store:
        for record in range(first, last + 1):
            store.decide(record, "include" if record % 3 else "exclude", reviewer)
            print("ack", record, flush=True)
""")


def _store_with_records(folder: Path, n: int) -> None:
    with ScreeningStore.create(folder, {"prior": "none"}) as store:
        store.add_records({"segment_id": f"s{i}", "text": f"record {i}"} for i in range(n))


def test_two_reviewers_writing_at_once(tmp_path):
    folder = tmp_path / "shared"
    _store_with_records(folder, 120)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(folder), who, str(first), str(first + 59)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who, first in (("kari", 1), ("ola", 61))]
    # a third process reads while they write
    with ScreeningStore.open(folder) as reader:
        while any(p.poll() is None for p in procs):
            assert len(reader.current_decisions()) <= 120
            time.sleep(0.01)
    for proc in procs:
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert out.count("ack") == 60
    with ScreeningStore.open(folder) as store:
        decisions = store.current_decisions()
        assert store.integrity_check() == "ok"
        assert sorted(decisions["record"]) == list(range(1, 121))
        assert decisions.groupby("reviewer").size().to_dict() == {"kari": 60, "ola": 60}
        assert store.decision_version() == 120


def test_killed_reviewer_loses_no_acknowledged_decision(tmp_path):
    folder = tmp_path / "killed"
    _store_with_records(folder, 5000)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(folder), "kari", "1", "5000"], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    for line in proc.stdout:
        acknowledged.append(int(line.split()[1]))
        if len(acknowledged) == 40:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    acknowledged += [int(line.split()[1]) for line in proc.stdout.read().splitlines() if line.startswith("ack")]
    assert proc.returncode == -signal.SIGKILL
    with ScreeningStore.open(folder) as store:
        assert store.integrity_check() == "ok"
        stored = set(store.current_decisions()["record"])
    assert set(acknowledged) <= stored
    assert len(stored) < 5000  # it really was killed in the middle


# --------------------------------------------------------------------------- the session, as a user runs it


def test_init_imports_deduplicates_and_ranks_before_any_decision(project, abstracts):
    with ScreeningProject.open(project) as opened:
        assert opened.store.n_records() == len(abstracts)
        assert opened.store.n_duplicates() == 1
        scores = opened.store.scores()["score"]
        assert len(scores) == len(abstracts)
        prior = opened.store.records()["prior"]
    assert scores.to_numpy() == pytest.approx(prior.to_numpy())  # no decision yet: the ranking is the prior
    relevant = abstracts["relevance"].isin(["include", "borderline"]).to_numpy()
    top = np.argsort(-prior.to_numpy())[: len(abstracts) // 3]
    assert relevant[top].mean() > relevant.mean()  # useful before the first decision
    assert (project / "model" / "meta.json").is_file() and (project / "codebook.toml").is_file()


def test_next_shows_records_with_scores_and_words(project):
    result = run("screen", "next", "-p", project, "-n", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert len(shown) == 3
    assert [r["rank"] for r in shown] == [1, 2, 3]
    assert shown[0]["score"] >= shown[1]["score"] >= shown[2]["score"]
    for record in shown:
        assert record["title"] and record["authors"] and record["year"] and record["evidence"]
        assert all(w.lower() in (record["title"] + " " + record["abstract"]).lower() for w in record["evidence"])
    table = run("screen", "next", "-p", project, "-n", "1")
    assert table.exit_code == 0 and f"[{shown[0]['id']}]" in table.stdout and "words:" in table.stdout


def test_label_stores_then_refits(project):
    first = json.loads(run("screen", "next", "-p", project, "-n", "1", "-f", "json").stdout)[0]
    result = run("screen", "label", first["id"], "exclude", "--reason", "private-sector marketing", "-p", project, "-r", "kari")
    assert result.exit_code == 0, result.output
    assert f"saved: record {first['id']} exclude" in result.output and "refit on 1 decision" in result.output
    decision = decisions_of(project).iloc[0]
    assert (decision["record"], decision["label"], decision["reviewer"], decision["reason"]) == (
        first["id"], "exclude", "kari", "private-sector marketing")
    after = json.loads(run("screen", "next", "-p", project, "-n", "1", "-f", "json").stdout)[0]
    assert after["id"] != first["id"]


@pytest.mark.parametrize(("args", "message"), [
    (("999", "include"), "no record with id 999"),
    (("1", "maybe"), "unknown decision 'maybe'; choose one of: include, borderline, exclude"),
])
def test_label_refuses_bad_input(project, args, message):
    result = run("screen", "label", *args, "-p", project, "-r", "kari")
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert decisions_of(project).empty


def test_review_keys_decide_skip_undo_quit(project):
    order = [r["id"] for r in json.loads(run("screen", "next", "-p", project, "-n", "3", "-f", "json").stdout)]
    # include the first, skip the second, exclude the next, undo that, borderline it, quit
    result = run("screen", "review", "-p", project, "-r", "ola", input="iseubq")
    assert result.exit_code == 0, result.output
    assert "saved:" in result.output and "undone:" in result.output
    decisions = decisions_of(project)
    assert decisions["reviewer"].unique().tolist() == ["ola"]
    assert decisions["label"].tolist() == ["include", "borderline"]
    assert decisions["record"].iloc[0] == order[0]
    assert order[1] not in decisions["record"].tolist()  # skipped, still open
    with ScreeningStore.open(project) as store:
        log = store.decision_log()
    assert log["undone_at"].notna().sum() == 1 and log.loc[log["undone_at"].notna(), "label"].item() == "exclude"


def test_sheet_round_trip(project, tmp_path):
    sheet = tmp_path / "batch.xlsx"
    result = run("screen", "export", "--top", "6", "--out", sheet, "-p", project)
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(sheet)
    rows = list(book.active.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:4] == ["id", "rank", "score", "decision"] and len(rows) == 7
    assert book.active.data_validations.dataValidation[0].formula1 == '"include,borderline,exclude"'
    ids = [r[0] for r in rows[1:]]
    for i, label in zip(range(2, 6), ["include", "exclude", "Exclude ", "borderline"]):
        book.active.cell(row=i, column=4, value=label)
    book.active.cell(row=2, column=5, value="about a council's leadership")
    book.save(sheet)
    result = run("screen", "import", sheet, "-p", project, "-r", "kari")
    assert result.exit_code == 0, result.output
    assert "imported 4 decision(s)" in result.output
    decisions = decisions_of(project).set_index("record")
    assert decisions.loc[ids[0], "label"] == "include" and decisions.loc[ids[0], "reason"] == "about a council's leadership"
    assert decisions.loc[ids[2], "label"] == "exclude" and ids[4] not in decisions.index
    # importing again changes nothing; a changed decision is not taken silently
    assert "imported 0 decision(s)" in run("screen", "import", sheet, "-p", project).output
    book.active.cell(row=2, column=4, value="exclude")
    book.save(sheet)
    conflict = run("screen", "import", sheet, "-p", project)
    assert conflict.exit_code == 1 and f"record {ids[0]} (stored include, sheet exclude)" in conflict.output
    assert decisions_of(project).set_index("record").loc[ids[0], "label"] == "include"
    assert run("screen", "import", sheet, "-p", project, "--replace").exit_code == 0
    assert decisions_of(project).set_index("record").loc[ids[0], "label"] == "exclude"


def test_sheet_with_errors_imports_nothing(project, tmp_path):
    sheet = tmp_path / "bad.csv"
    pd.DataFrame({"id": [1, 2, 777, "x"], "decision": ["include", "perhaps", "exclude", "exclude"]}).to_csv(sheet, index=False)
    result = run("screen", "import", sheet, "-p", project)
    assert result.exit_code != 0 and "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert "3 problem(s), nothing imported" in message
    assert "row 3: unknown decision 'perhaps'" in message and "row 4: no record 777" in message and "row 5: id 'x'" in message
    assert decisions_of(project).empty


def test_exports_decisions_for_asreview_and_annotations_for_training(project, tmp_path, codebook):
    for record, label in ((1, "include"), (2, "borderline"), (3, "exclude")):
        assert run("screen", "label", record, label, "-p", project, "-r", "kari").exit_code == 0
    csv_out, ris_out, ann_out = tmp_path / "d.csv", tmp_path / "d.ris", tmp_path / "train.jsonl"
    for out in (csv_out, ris_out, ann_out):
        result = run("screen", "export", "--out", out, "-p", project)
        assert result.exit_code == 0, result.output
    table = pd.read_csv(csv_out, dtype=str, keep_default_na=False).set_index("record_id")
    assert len(table) == N_REFS
    assert table.loc[["1", "2", "3"], "included"].tolist() == ["1", "1", "0"]
    assert table.loc[["1", "2", "3"], "relevance"].tolist() == ["include", "borderline", "exclude"]
    assert table.loc["4", "included"] == ""
    notes = [entry.get("notes", []) for entry in rispy.loads(ris_out.read_text(encoding="utf-8"))]
    assert [n[0] for n in notes[:4]] == ["ASReview_relevant", "ASReview_relevant", "ASReview_irrelevant", "ASReview_not_seen"]
    frame = read_annotations(ann_out, codebook)
    assert frame["relevance"].tolist() == ["include", "borderline", "exclude"]
    assert frame["aspect"].isna().all() and set(frame["coder"]) == {"kari"}
    assert run("validate", ann_out).exit_code == 0
    # an export never replaces a file without --force
    again = run("screen", "export", "--out", csv_out, "-p", project)
    assert again.exit_code != 0 and "already exists" in again.output


def test_status_and_plot(project, tmp_path):
    for record in range(1, 8):
        run("screen", "label", record, "exclude" if record % 2 else "include", "-p", project, "-r", "kari")
    result = run("screen", "status", "-p", project, "-f", "json", "--plot", tmp_path / "curve.png")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["n_records"] == N_REFS and status["screened"] == 7 and status["relevant_found"] == 3
    assert status["decisions"] == {"include": 3, "borderline": 0, "exclude": 4}
    assert 0 < status["estimated_relevant_left"] < N_REFS - 7
    assert status["stopping"]["stop"] is False and status["stopping"]["run_needed"] == 20
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = run("screen", "status", "-p", project)
    assert "keep screening" in table.stdout and "relevant left" in table.stdout


KILLED_SESSION = textwrap.dedent("""
    import sys
    from samverdi_nlp.cli import app
    project, ids = sys.argv[1], sys.argv[2:]
    for n, record in enumerate(ids):
        label = "include" if n % 2 else "exclude"
        try:
            app(["screen", "label", record, label, "-p", project, "-r", "kari"], standalone_mode=False)
        except SystemExit:
            pass
        print("ack", record, label, flush=True)
""")


def test_full_session_survives_a_kill(project, tmp_path, codebook):
    """import -> label -> kill in the middle -> reopen -> label more -> export."""
    script = tmp_path / "session.py"
    script.write_text(KILLED_SESSION)
    proc = subprocess.Popen([sys.executable, str(script), str(project), *map(str, range(1, N_REFS + 1))],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    acknowledged: dict[int, str] = {}
    for line in proc.stdout:
        _, record, label = line.split()
        acknowledged[int(record)] = label
        if len(acknowledged) == 4:
            proc.send_signal(signal.SIGKILL)  # while it refits after the 4th decision or stores the 5th
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = decisions_of(project).set_index("record")["label"].to_dict()
    assert all(stored[r] == label for r, label in acknowledged.items())
    assert len(stored) < N_REFS
    # the project opens and the session goes on
    nxt = json.loads(run("screen", "next", "-p", project, "-n", "2", "-f", "json").stdout)
    assert not {r["id"] for r in nxt} & set(stored)
    assert run("screen", "label", nxt[0]["id"], "include", "-p", project, "-r", "ola").exit_code == 0
    out = tmp_path / "final.csv"
    assert run("screen", "export", "-o", out, "-p", project).exit_code == 0
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert (table["relevance"] != "").sum() == len(stored) + 1
    status = json.loads(run("screen", "status", "-p", project, "-f", "json").stdout)
    assert status["screened"] == len(stored) + 1 and status["reviewers"] == ["kari", "ola"]


@pytest.mark.parametrize(("args", "message"), [
    (("screen", "next", "-p", "{tmp}/nowhere"), "is not a screening project"),
    (("screen", "status", "-p", "{tmp}"), "is not a screening project"),
    (("screen", "init", "{fixtures}/two_label_codebook.toml", "-p", "{tmp}/p", "--prior", "none"), "unknown file type .toml"),
    (("screen", "init", "{refs}", "-p", "{tmp}/p", "--model", "{tmp}"), "not a samverdi model folder"),
    (("screen", "init", "{refs}", "-p", "{tmp}/p", "--prior", "none", "--codebook",
      "{fixtures}/relevance_multi_label_codebook.toml"), "no single-label 'relevance' dimension"),
])
def test_bad_input_gets_one_clear_message(tmp_path, refs, args, message):
    filled = [a.format(tmp=tmp_path, fixtures=FIXTURES, refs=refs) for a in args]
    result = run(*filled)
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "p" / DB_NAME).exists()


def test_init_refuses_an_existing_project_and_adds_with_add(project, refs, tmp_path, abstracts):
    again = run("screen", "init", refs, "-p", project, "--prior", "none")
    assert again.exit_code != 0 and "already holds a screening project" in again.output
    extra = corpus_abstracts(N_REFS + 9)
    extra = extra[~extra["segment_id"].isin(abstracts["segment_id"])]
    more = write_ris(pd.concat([extra, abstracts.head(2)]), tmp_path / "wos.ris", first_doi=1001)
    added = run("screen", "init", more, "-p", project, "--add")
    assert added.exit_code == 0, added.output
    with ScreeningProject.open(project) as opened:
        n = opened.store.n_records()
        assert len(opened.store.scores()) == n
        assert opened.store.records()["prior"].notna().all()
    assert n == N_REFS + len(extra)  # the two records already there are duplicates by title
    assert "2 duplicate(s) set aside" in added.output


def test_project_with_no_prior_and_a_codebook_of_its_own(tmp_path, refs):
    folder = tmp_path / "noprior"
    result = run("screen", "init", refs, "-p", folder, "--prior", "none", "--codebook", FIXTURES / "two_label_codebook.toml")
    assert result.exit_code == 0, result.output
    first = json.loads(run("screen", "next", "-p", folder, "-n", "1", "-f", "json").stdout)[0]
    assert first["id"] == 1 and first["score"] == 0.5  # no prior: import order until the first decision
    assert run("screen", "label", 1, "ja", "-p", folder, "-r", "kari").exit_code == 0
    wrong = run("screen", "label", 2, "include", "-p", folder, "-r", "kari")
    assert "choose one of: ja, nei" in wrong.output
    other = run("screen", "status", "-p", folder, "--codebook", REPO / "src" / "samverdi_nlp" / "codebook.toml")
    assert other.exit_code != 0 and "follows another codebook" in other.output


# --------------------------------------------------------------------------- simulate


@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory, abstracts) -> Path:
    path = tmp_path_factory.mktemp("labelled") / "labelled.csv"
    abstracts[["segment_id", "title", "text", "relevance"]].to_csv(path, index=False)
    return path


SIMULATION_KEYS = {"n_records", "n_relevant", "wss_95", "wss_100", "recall_at_10", "recall_at_25", "recall_at_50", "screened_to_95"}


def test_simulate_json_contract_and_determinism(labelled_csv, small_model_dir, tmp_path):
    args = ("screen", "simulate", labelled_csv, "--model", small_model_dir, "--format", "json", "--refit-every", "3")
    result = run(*args, "--plot", tmp_path / "curve.png")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert SIMULATION_KEYS <= set(figures)
    assert figures["n_records"] == N_REFS and figures["n_relevant"] == 2 * (N_REFS // 3)
    assert -0.05 <= figures["wss_95"] <= 1 and 0 <= figures["recall_at_10"] <= figures["recall_at_25"] <= figures["recall_at_50"] <= 1
    assert figures["screened_to_95"] <= N_REFS
    assert json.loads(run(*args).stdout) == figures
    assert (tmp_path / "curve.png").stat().st_size > 1000
    excluded = json.loads(run(*args, "--borderline", "exclude").stdout)
    assert excluded["n_relevant"] == N_REFS // 3


def test_simulate_reads_asreview_labels(abstracts, tmp_path):
    table = tmp_path / "asreview.csv"
    abstracts.assign(label_included=abstracts["relevance"].map({"include": 1, "borderline": 1, "exclude": 0}))[
        ["title", "text", "label_included"]].rename(columns={"text": "abstract"}).to_csv(table, index=False)
    ris = write_ris(abstracts, tmp_path / "asreview.ris", labels=True)
    results = []
    for path in (table, ris):
        result = run("screen", "simulate", path, "--prior", "none", "-f", "json", "--refit-every", "4", "--seed", "2")
        assert result.exit_code == 0, result.output
        results.append(json.loads(result.stdout))
    assert results[0]["n_relevant"] == results[1]["n_relevant"] == 2 * (N_REFS // 3)
    assert results[0]["n_seed"] == 2  # no prior: one relevant and one irrelevant seed record


@pytest.mark.parametrize(("content", "message"), [
    ("title,abstract\nA,B\n", "has no label column"),
    ("title,abstract,included\nCo-creation in councils,Text one,1\nBrand value,Text two,\n", "row(s) have no label in 'included' (row 3)"),
    ("title,abstract,included\nCo-creation in councils,Text one,1\nBrand value,Text two,maybe\n", "row 3: column 'included' has the value 'maybe'"),
    ("title,abstract,relevance\nCo-creation in councils,Text one,include\nBrand value,Text two,include\n", "all 2 records are relevant"),
])
def test_simulate_refuses_bad_labels(tmp_path, content, message):
    path = tmp_path / "labels.csv"
    path.write_text(content, encoding="utf-8")
    result = run("screen", "simulate", path, "--prior", "none")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert message in " ".join(result.output.split())
