"""Inter-coder agreement: statistics against reference libraries, reports, disagreements, adjudication, CLI."""

from __future__ import annotations

import csv
import itertools
import json
import math
import warnings
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import masi_distance as nltk_masi_distance
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa
from typer.testing import CliRunner

from samverdi_nlp import agreement as ag
from samverdi_nlp.annotations import read_annotations, write_annotations
from samverdi_nlp.cli import app
from samverdi_nlp.errors import AgreementError, CodebookError, ModelError, OutputError
from samverdi_nlp.reports.agreement import (
    agreement_csv,
    agreement_html,
    agreement_json,
    agreement_table,
    write_disagreements,
)

HERE = Path(__file__).parent / "fixtures" / "agreement"
PER_CODER = HERE / "one_file_per_coder"
IDS_DIFFER = HERE / "ids_differ"
THREE_CODERS = HERE / "three_coders_coder_column.jsonl"
PERFECT = HERE / "perfect_agreement_one_value.jsonl"
REPEATED = HERE / "repeated_heading_text.jsonl"
SINGLE = HERE / "single_coder.csv"

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
runner = CliRunner()


# --------------------------------------------------------------------------- random data


@st.composite
def reliability_matrices(draw, *, min_coders: int = 2, max_coders: int = 5, missing: bool = True, n_values: int = 4):
    """Units × coders integer codes with None for missing."""
    n_units = draw(st.integers(2, 14))
    n_coders = draw(st.integers(min_coders, max_coders))
    values = st.integers(0, n_values - 1)
    cell = st.one_of(st.none(), values) if missing else values
    return [[draw(cell) for _ in range(n_coders)] for _ in range(n_units)]


@st.composite
def label_set_matrices(draw):
    n_units = draw(st.integers(2, 10))
    n_coders = draw(st.integers(2, 4))
    label_set = st.frozensets(st.sampled_from(["a", "b", "c"]), max_size=3)
    return [[draw(st.one_of(st.none(), label_set)) for _ in range(n_coders)] for _ in range(n_units)]


def _coders_by_units(units: list[list[int | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in units], dtype=float).T


# --------------------------------------------------------------------------- published values


def test_krippendorff_worked_example_matches_paper_and_package():
    units = [
        [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
        [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, 3, None, None],
    ]
    ours = ag.krippendorff_alpha(units)
    assert round(ours.value, 3) == 0.743
    assert ours.n_units == 11  # the unit with one value is unpairable
    reference = krippendorff.alpha(reliability_data=_coders_by_units(units), level_of_measurement="nominal")
    assert ours.value == pytest.approx(reference, abs=1e-12)


def test_sklearn_documented_kappa_example():
    y1 = ["negative", "positive", "negative", "neutral", "positive"]
    y2 = ["negative", "positive", "negative", "neutral", "negative"]
    assert ag.cohen_kappa(y1, y2).value == pytest.approx(0.6875)
    assert ag.cohen_kappa(y1, y2).value == pytest.approx(cohen_kappa_score(y1, y2))


# --------------------------------------------------------------------------- cross-checks on random data


@PROPERTY
@given(reliability_matrices())
def test_nominal_alpha_matches_krippendorff_package(units):
    ours = ag.krippendorff_alpha(units)
    data = _coders_by_units(units)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    except ValueError:  # the package raises when fewer than two values occur
        reference = math.nan
    if math.isnan(reference):
        assert ours.value is None and ours.reason
    else:
        assert ours.value == pytest.approx(reference, abs=1e-9)


@PROPERTY
@given(reliability_matrices(missing=False, min_coders=2, max_coders=5))
def test_fleiss_kappa_matches_statsmodels(units):
    ours = ag.fleiss_kappa(units)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = statsmodels_fleiss_kappa(aggregate_raters(np.array(units))[0])
    if math.isnan(reference):
        assert ours.value is None and ours.reason.startswith("no variation")
    else:
        assert ours.value == pytest.approx(reference, abs=1e-9)


@PROPERTY
@given(reliability_matrices(missing=False, min_coders=2, max_coders=2))
def test_cohen_kappa_matches_sklearn(units):
    first, second = [row[0] for row in units], [row[1] for row in units]
    ours = ag.cohen_kappa(first, second)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = cohen_kappa_score(first, second)
    if math.isnan(reference):
        assert ours.value is None and "no variation" in ours.reason
    else:
        assert ours.value == pytest.approx(reference, abs=1e-9)


@PROPERTY
@given(label_set_matrices())
def test_masi_alpha_matches_nltk_annotation_task(units):
    ours = ag.krippendorff_alpha(units, distance="masi")
    triples = [(f"c{j}", f"u{i}", cell) for i, row in enumerate(units) for j, cell in enumerate(row) if cell is not None]
    pairable_values = {cell for row in units if sum(c is not None for c in row) >= 2 for cell in row if cell is not None}
    if len(pairable_values) < 2:
        # NLTK returns 1 (or raises) where alpha is 0/0; ours says why instead.
        assert ours.value is None and ours.reason
        return
    # NLTK's own masi_distance divides by zero on two empty sets, so it gets ours (equal elsewhere, see below).
    reference = AnnotationTask(data=triples, distance=ag.masi_distance).alpha()
    assert ours.value == pytest.approx(reference, abs=1e-9)


@pytest.mark.parametrize("first, second", [
    ({"a"}, {"a"}), ({"a", "b"}, {"a", "b", "c", "d"}), ({"a", "b"}, {"b", "c"}), ({"a"}, {"b"}), ({"a", "b", "c"}, {"c"}),
])
def test_masi_distance_equals_nltk_on_non_empty_sets(first, second):
    assert ag.masi_distance(first, second) == pytest.approx(nltk_masi_distance(set(first), set(second)))


def test_masi_distance_of_empty_sets_is_defined_where_nltk_crashes():
    with pytest.raises(ZeroDivisionError):
        nltk_masi_distance(set(), set())
    assert ag.masi_distance((), ()) == 0.0
    assert ag.masi_distance((), ("a",)) == 1.0


def _two_coder_ac1(first, second, categories):
    """Gwet (2008), two raters: AC1 from the contingency table, written independently of the library."""
    n = len(first)
    table = {(a, b): sum(1 for x, y in zip(first, second) if (x, y) == (a, b)) / n for a in categories for b in categories}
    p_a = sum(table[(k, k)] for k in categories)
    pi = {k: (sum(table[(k, b)] for b in categories) + sum(table[(a, k)] for a in categories)) / 2 for k in categories}
    p_e = sum(p * (1 - p) for p in pi.values()) / (len(categories) - 1)
    return (p_a - p_e) / (1 - p_e)


@PROPERTY
@given(reliability_matrices(missing=False, min_coders=2, max_coders=2, n_values=3))
def test_ac1_matches_gwet_two_coder_formula(units):
    first, second = [row[0] for row in units], [row[1] for row in units]
    ours = ag.gwet_ac1(units, categories=[0, 1, 2])
    assert ours.value == pytest.approx(_two_coder_ac1(first, second, [0, 1, 2]), abs=1e-9)


@PROPERTY
@given(reliability_matrices(missing=False, min_coders=2, max_coders=4))
def test_percent_agreement_is_the_share_of_agreeing_pairs(units):
    per_unit = [np.mean([a == b for a, b in itertools.combinations(row, 2)]) for row in units]
    assert ag.percent_agreement(units).value == pytest.approx(np.mean(per_unit))


@PROPERTY
@given(reliability_matrices(), st.randoms(use_true_random=False))
def test_statistics_ignore_the_order_of_coders_units_and_label_names(units, random):
    shuffled = [row[:] for row in units]
    random.shuffle(shuffled)
    order = list(range(len(units[0])))
    random.shuffle(order)
    shuffled = [[row[j] for j in order] for row in shuffled]
    renamed = [[None if v is None else f"label-{7 - v}" for v in row] for row in shuffled]
    for statistic in (ag.krippendorff_alpha, ag.percent_agreement, ag.fleiss_kappa):
        a, b = statistic(units), statistic(renamed)
        assert (a.value is None) == (b.value is None)
        if a.value is not None:
            assert a.value == pytest.approx(b.value, abs=1e-9)


@PROPERTY
@given(reliability_matrices(missing=False, n_values=3))
def test_ac1_with_the_full_scale_never_undefined_and_at_most_one(units):
    result = ag.gwet_ac1(units, categories=[0, 1, 2])
    assert result.value is not None and result.value <= 1 + 1e-12


# --------------------------------------------------------------------------- defined values where libraries fail


@pytest.mark.parametrize("statistic, units, reason", [
    (ag.krippendorff_alpha, [["a", "a"], ["a", "a"]], "no variation"),
    (ag.krippendorff_alpha, [["a", None], [None, "b"]], "no segment coded by two coders"),
    (ag.fleiss_kappa, [["a", "a"], ["a", "a"]], "no variation"),
    (ag.fleiss_kappa, [["a", None], ["b", "a"]], None),
    (ag.fleiss_kappa, [["a", None], [None, "b"]], "no segment coded by every coder"),
    (ag.percent_agreement, [["a", None]], "no segment coded by two coders"),
    (ag.exact_match, [[("a",), None]], "no segment coded by two coders"),
])
def test_undefined_statistics_give_a_reason_and_no_warning(statistic, units, reason):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from a 0/0 either
        result = statistic(units)
    if reason is None:
        assert result.value is not None and not math.isnan(result.value)
    else:
        assert result.value is None and reason in result.reason


def test_all_agree_on_one_value_alpha_undefined_but_ac1_and_agreement_one():
    units = [["x", "x", "x"]] * 5
    assert ag.krippendorff_alpha(units).reason == "no variation: all coders gave the same value"
    assert ag.percent_agreement(units).value == 1.0
    assert ag.gwet_ac1(units, categories=["x", "y"]).value == 1.0
    assert ag.gwet_ac1(units).value is None  # one category seen and no scale given


def test_perfect_agreement_with_variation_is_one():
    units = [["a", "a"], ["b", "b"], ["c", "c"]]
    assert ag.krippendorff_alpha(units).value == pytest.approx(1.0)
    assert ag.cohen_kappa(*zip(*units)).value == pytest.approx(1.0)
    assert ag.krippendorff_alpha([[("a",), ("a",)], [(), ()]], distance="masi").value == pytest.approx(1.0)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="one cell per coder"):
        ag.krippendorff_alpha([["a", "b"], ["a"]])
    with pytest.raises(ValueError, match="unknown distance"):
        ag.krippendorff_alpha([["a", "b"]], distance="interval")
    with pytest.raises(ValueError, match="not one of the categories"):
        ag.gwet_ac1([["a", "z"]], categories=["a", "b"])
    with pytest.raises(ValueError, match="exactly two coders"):
        ag.bootstrap_ci([["a", "b", "a"]], "cohen_kappa")


# --------------------------------------------------------------------------- bootstrap and readings


VARIED = [["a", "a"], ["b", "b"], ["a", "b"], ["b", "b"], ["a", "a"], ["b", "a"], ["a", "a"], ["b", "b"], ["c", "c"], ["c", "a"]] * 4 + [["c", "b"]]


@pytest.mark.parametrize("statistic", ["percent_agreement", "alpha", "cohen_kappa", "fleiss_kappa", "ac1"])
def test_bootstrap_is_seeded_and_brackets_the_estimate(statistic):
    first = ag.bootstrap_ci(VARIED, statistic, n_boot=300, seed=7)
    again = ag.bootstrap_ci(VARIED, statistic, n_boot=300, seed=7)
    other = ag.bootstrap_ci(VARIED, statistic, n_boot=300, seed=8)
    assert first == again
    assert first != other
    point = ag.bootstrap_ci(VARIED, statistic, n_boot=0)
    assert point.low is None and point.reason.startswith("no bootstrap")
    estimate = {"percent_agreement": ag.percent_agreement, "alpha": ag.krippendorff_alpha, "fleiss_kappa": ag.fleiss_kappa,
                "ac1": ag.gwet_ac1, "cohen_kappa": lambda u: ag.cohen_kappa(*zip(*u))}[statistic](VARIED).value
    assert first.low < estimate < first.high and first.n_defined == 300


def test_bootstrap_of_undefined_statistic_and_of_no_resamples():
    assert ag.bootstrap_ci([["a", "a"]] * 4, "alpha", n_boot=50).reason == "the statistic itself is undefined"
    assert ag.bootstrap_ci(VARIED, "alpha", n_boot=0).low is None


def test_bootstrap_of_a_rare_value_counts_undefined_resamples():
    rare = [["a", "a"]] * 9 + [["b", "b"]]
    interval = ag.bootstrap_ci(rare, "alpha", n_boot=400, seed=1)
    assert interval.n_defined < 400
    assert ("resamples" in interval.reason)


@pytest.mark.parametrize("value, band", [(0.8, "reliable"), (0.7999, "tentative"), (0.667, "tentative"), (0.6669, "unreliable"), (-0.2, "unreliable")])
def test_krippendorff_thresholds(value, band):
    assert ag.krippendorff_band(value) == band
    assert band in ag.reading("alpha", value)


@pytest.mark.parametrize("value, band", [(-0.01, "poor"), (0.0, "slight"), (0.2, "slight"), (0.21, "fair"), (0.41, "moderate"), (0.61, "substantial"), (0.81, "almost perfect"), (1.0, "almost perfect")])
def test_landis_koch_bands(value, band):
    assert ag.landis_koch(value) == band


def test_reading_warns_when_interval_crosses_threshold():
    assert "reaches below 0.800" in ag.reading("alpha", 0.85, (0.75, 0.9))
    assert "reaches below" not in ag.reading("alpha", 0.85, (0.81, 0.9))


# --------------------------------------------------------------------------- frames and the report


@pytest.fixture(scope="module")
def per_coder(codebook):
    return read_annotations(PER_CODER, codebook)


@pytest.fixture(scope="module")
def per_coder_report(per_coder, codebook):
    return ag.agreement_report(per_coder, codebook, n_boot=200, seed=3)


def test_report_has_the_documented_json_shape(per_coder_report, codebook):
    assert list(per_coder_report) == list(codebook.dimension_ids)
    for dim in codebook.dimensions:
        entry = per_coder_report[dim.id]
        for key in ("n_segments", "percent_agreement", "alpha", "labels", "ci", "reasons", "reading", "pairs", "n_shared", "n_coded"):
            assert key in entry
        assert list(entry["labels"]) == list(dim.label_ids)
        for label in entry["labels"].values():
            assert {"alpha", "kappa", "ac1", "percent_agreement"} <= set(label)
        assert ("exact_match" in entry) == dim.multi_label
    text = agreement_json(per_coder_report)
    assert json.loads(text) == json.loads(json.dumps(per_coder_report))  # JSON-ready, no NaN (allow_nan=False)


def test_report_counts_coded_and_shared_segments(per_coder_report):
    relevance = per_coder_report["relevance"]
    assert relevance["n_segments"] == 8 and relevance["n_shared"] == 8
    assert relevance["n_single"] == 1  # s09 was coded by ann only
    assert relevance["n_coded"] == {"ann": 9, "bo": 8}
    assert relevance["kappa_kind"] == "cohen"


def test_report_matches_reference_libraries_on_the_fixture(per_coder, per_coder_report, codebook):
    ann = per_coder[per_coder.coder == "ann"].set_index("segment_id")
    bo = per_coder[per_coder.coder == "bo"].set_index("segment_id")
    shared = [s for s in ann.index if s in bo.index]
    relevance = per_coder_report["relevance"]
    assert relevance["kappa"] == pytest.approx(cohen_kappa_score(ann.loc[shared, "relevance"], bo.loc[shared, "relevance"]))
    for label in codebook.dimension("aspect").label_ids:
        first = [int(label in ann.at[s, "aspect"]) for s in shared]
        second = [int(label in bo.at[s, "aspect"]) for s in shared]
        expected = krippendorff.alpha(reliability_data=[first, second], level_of_measurement="nominal")
        assert per_coder_report["aspect"]["labels"][label]["alpha"] == pytest.approx(expected)
        assert per_coder_report["aspect"]["labels"][label]["kappa"] == pytest.approx(cohen_kappa_score(first, second))
    triples = [(c, s, frozenset(frame.at[s, "level"])) for c, frame in (("ann", ann), ("bo", bo)) for s in shared]
    masi = AnnotationTask(data=triples, distance=ag.masi_distance).alpha()
    assert per_coder_report["level"]["alpha"] == pytest.approx(masi)


def test_intervals_are_ordered_and_only_missing_where_explained(per_coder_report):
    for entry in [*per_coder_report.values(), *(lab for e in per_coder_report.values() for lab in e["labels"].values())]:
        for key, interval in entry["ci"].items():
            if interval is None:
                assert entry[key] is None or f"{key}_ci" in entry["reasons"]
            else:
                assert -1.0 <= interval[0] <= interval[1] <= 1.0


def test_report_is_deterministic_and_a_dimension_does_not_depend_on_the_others(per_coder, per_coder_report, codebook):
    again = ag.agreement_report(per_coder, codebook, n_boot=200, seed=3)
    assert again == per_coder_report
    alone = ag.agreement_report(per_coder, codebook, dimensions=["relevance"], n_boot=200, seed=3)
    assert alone == {"relevance": per_coder_report["relevance"]}
    other_seed = ag.agreement_report(per_coder, codebook, dimensions=["relevance"], n_boot=200, seed=4)
    assert other_seed["relevance"]["ci"] != per_coder_report["relevance"]["ci"]


def test_segments_match_on_text_when_ids_differ(codebook, per_coder_report):
    frame = read_annotations(IDS_DIFFER, codebook)
    assert frame[frame.coder == "bo"].segment_id.str.startswith("t").all()  # bo's ids are derived text hashes
    report = ag.agreement_report(frame, codebook, n_boot=200, seed=3)
    for dim_id, entry in report.items():
        assert entry["n_segments"] == 8
        assert entry["n_matched_by_text"] == 8
        assert entry["alpha"] == per_coder_report[dim_id]["alpha"]
        assert entry["ci"] == per_coder_report[dim_id]["ci"]


def test_a_text_repeated_in_two_documents_is_not_merged(codebook):
    frame = read_annotations(REPEATED, codebook)
    matched = ag.match_segments(frame)
    assert sorted(set(matched.segment_id)) == ["h1", "h2", "m1", "m2", "x1", "x2"]
    report = ag.agreement_report(frame, codebook, n_boot=0)
    assert report["relevance"]["n_segments"] == 2
    assert report["relevance"]["n_single"] == 4


def test_three_coders_with_gaps_use_fleiss_on_shared_segments(codebook):
    frame = read_annotations(THREE_CODERS, codebook)
    report = ag.agreement_report(frame, codebook, n_boot=100, seed=1)
    relevance = report["relevance"]
    assert relevance["kappa_kind"] == "fleiss" and relevance["coders"] == ["ann", "bo", "cy"]
    assert relevance["n_segments"] == 6 and relevance["n_shared"] == 4  # cy skipped k5, bo left k3 blank
    assert relevance["kappa"] == relevance["fleiss_kappa"]
    table = ag.reliability_data(frame, codebook, "relevance")
    complete = table.dropna()
    expected = statsmodels_fleiss_kappa(aggregate_raters(complete.to_numpy())[0])
    assert relevance["fleiss_kappa"] == pytest.approx(expected)
    assert relevance["alpha"] == pytest.approx(ag.krippendorff_alpha(table).value)
    assert [p["coders"] for p in relevance["pairs"]] == [["ann", "bo"], ["ann", "cy"], ["bo", "cy"]]
    assert [p["n_segments"] for p in relevance["pairs"]] == [5, 5, 4]


def test_perfect_agreement_and_unused_labels_are_explained(codebook):
    frame = read_annotations(PERFECT, codebook)
    report = ag.agreement_report(frame, codebook, n_boot=100)
    assert set(report) == {"aspect", "level", "relevance"}
    relevance = report["relevance"]
    assert relevance["alpha"] is None and relevance["reasons"]["alpha"] == "no variation: all coders gave the same value"
    assert relevance["percent_agreement"] == 1.0 and relevance["ac1"] == 1.0
    assert relevance["reading"].startswith("α undefined: no variation")
    unused = report["level"]["labels"]["strategic"]
    assert unused["n_present"] == 0 and unused["alpha"] is None and unused["kappa"] is None
    assert unused["reasons"]["alpha"].startswith("label never used")
    assert unused["ac1"] == 1.0
    assert report["aspect"]["alpha"] == pytest.approx(1.0)
    json.dumps(report, allow_nan=False)


def test_only_one_coder_is_a_clear_error(codebook):
    with pytest.raises(AgreementError, match="two coders or more.*'ann'"):
        ag.agreement_report(read_annotations(SINGLE, codebook), codebook)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"coders": ["ann", "zoe"]}, AgreementError, "unknown coder.*'zoe'.*ann, bo"),
    ({"dimensions": ["colour"]}, CodebookError, "unknown dimension 'colour'"),
    ({"n_boot": -1}, AgreementError, "--n-boot"),
    ({"level": 1.5}, AgreementError, "between 0 and 1"),
])
def test_bad_options_are_named(per_coder, codebook, kwargs, error, message):
    with pytest.raises(error, match=message):
        ag.agreement_report(per_coder, codebook, **kwargs)


def test_no_shared_segment_is_a_clear_error(per_coder, codebook):
    frame = per_coder.copy()
    frame.loc[frame.coder == "bo", "segment_id"] = "other-" + frame.loc[frame.coder == "bo", "segment_id"]
    frame.loc[frame.coder == "bo", "text"] = "different " + frame.loc[frame.coder == "bo", "text"]
    with pytest.raises(AgreementError, match="no segment is coded by two coders"):
        ag.agreement_report(frame, codebook)


def test_one_coder_coding_a_segment_twice_differently_is_named(per_coder, codebook):
    extra = per_coder[(per_coder.coder == "ann") & (per_coder.segment_id == "s06")].assign(relevance="include")
    frame = pd.concat([per_coder, extra], ignore_index=True)
    with pytest.raises(AgreementError, match="'s06' is coded twice by 'ann'"):
        ag.agreement_report(frame, codebook)


def test_codes_outside_the_codebook_are_refused(per_coder, codebook):
    frame = per_coder.copy()
    frame.loc[0, "relevance"] = "maybe"
    with pytest.raises(AgreementError, match="does not fit the codebook"):
        ag.agreement_report(frame, codebook)


# --------------------------------------------------------------------------- disagreements and adjudication


def test_disagreements_list_only_differing_segments_side_by_side(per_coder, codebook):
    table = ag.disagreements(per_coder, codebook)
    assert table.segment_id.tolist() == ["s01", "s02", "s04", "s06", "s08"]
    row = table.set_index("segment_id").loc["s06"]
    assert row["disagree_on"] == "relevance"
    assert (row["relevance:ann"], row["relevance:bo"]) == ("exclude", "borderline")
    assert table.set_index("segment_id").at["s04", "disagree_on"] == "level; principle"
    assert "s09" not in set(table.segment_id)  # coded by one coder: nothing to disagree on


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".xlsx"])
def test_disagreements_are_written_in_every_table_format(per_coder, codebook, tmp_path, suffix):
    path = write_disagreements(ag.disagreements(per_coder, codebook), tmp_path / f"diff{suffix}")
    if suffix == ".xlsx":
        back = pd.read_excel(path)
        assert len(back) == 5
        return
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert rows[0]["level:ann"] == ["political"] and rows[3]["factor:ann"] == []
        return
    rows = list(csv.DictReader(path.open(encoding="utf-8"), delimiter="\t" if suffix == ".tsv" else ","))
    s06 = next(r for r in rows if r["segment_id"] == "s06")
    assert s06["aspect:ann"] == "(none)" and s06["relevance:bo"] == "borderline"
    with pytest.raises(OutputError, match="already exists"):
        write_disagreements(ag.disagreements(per_coder, codebook), path)


def test_disagreements_xlsx_keeps_text_that_looks_like_a_formula(per_coder, codebook, tmp_path):
    table = ag.disagreements(per_coder, codebook).assign(text="=SUM(A1:A3) is not a formula here")
    back = pd.read_excel(write_disagreements(table, tmp_path / "diff.xlsx"))
    assert (back["text"] == "=SUM(A1:A3) is not a formula here").all()


def test_adjudicate_two_coders_flags_every_difference_as_a_tie(per_coder, codebook, tmp_path):
    final = ag.adjudicate(per_coder, codebook)
    assert (final.coder == "adjudicated").all() and len(final) == 9
    rows = final.set_index("segment_id")
    assert rows.at["s06", "relevance"] is None and rows.at["s06", "tie"] == "yes"
    assert "tie on relevance: borderline (bo) vs exclude (ann); left blank" in rows.at["s06", "note"]
    assert rows.at["s04", "level"] == ("strategic",)  # tactical: one for, one against, left out
    assert "tactical (ann for, bo against)" in rows.at["s04", "note"]
    assert rows.at["s03", "tie"] == "no" and rows.at["s03", "coders"] == "ann, bo"
    assert rows.at["s09", "relevance"] == "include" and rows.at["s09", "coders"] == "ann"
    path = write_annotations(final, tmp_path / "final.csv", codebook)
    back = read_annotations(path, codebook)
    assert set(back.coder) == {"adjudicated"} and len(back) == 9
    assert back.set_index("segment_id").at["s04", "tie"] == "yes"


def test_adjudicate_three_coders_takes_the_majority(codebook):
    final = ag.adjudicate(read_annotations(THREE_CODERS, codebook), codebook).set_index("segment_id")
    assert final.at["k1", "relevance"] == "borderline"  # bo and cy against ann
    assert final.at["k4", "aspect"] == ("culture", "process")  # culture by ann and cy
    assert final.at["k3", "aspect"] == ("structure",)
    assert final.at["k5", "tie"] == "yes"  # coded by ann and bo only, who differ
    assert final.at["k2", "tie"] == "no"


def test_adjudicate_refuses_tables_that_already_hold_adjudicated_rows(per_coder, codebook):
    frame = pd.concat([per_coder, ag.adjudicate(per_coder, codebook).drop(columns=["tie", "coders"])], ignore_index=True)
    with pytest.raises(AgreementError, match="already contain coder 'adjudicated'"):
        ag.adjudicate(frame, codebook)
    assert len(ag.adjudicate(frame, codebook, coders=["ann", "bo"])) == 9


# --------------------------------------------------------------------------- the model as a coder


def _copy_of(frame: pd.DataFrame, coder: str, codebook) -> pd.DataFrame:
    """Hand-made predictions: exactly one coder's codes, in the order of unique_segments."""
    segments = ag.unique_segments(frame)
    codes = frame[frame.coder == coder].set_index("segment_id")
    return pd.DataFrame({d.id: [codes.at[s, d.id] if s in codes.index else (() if d.multi_label else "exclude")
                                for s in segments.segment_id] for d in codebook.dimensions})


def test_model_as_a_coder_is_compared_with_each_coder(per_coder, codebook):
    frame = ag.add_model_coder(per_coder, _copy_of(per_coder, "ann", codebook), codebook=codebook)
    assert (frame.coder == "model").sum() == 9
    report = ag.agreement_report(frame, codebook, model="model", n_boot=100, seed=2)
    plain = ag.agreement_report(per_coder, codebook, n_boot=100, seed=2)
    relevance = report["relevance"]
    assert relevance["coders"] == ["ann", "bo"] and relevance["alpha"] == plain["relevance"]["alpha"]
    model = relevance["model"]
    assert model["n_segments"] == 8
    kinds = {tuple(p["coders"]): p for p in model["pairs"]}
    assert kinds[("ann", "model")]["kind"] == "model-coder" and kinds[("ann", "model")]["alpha"] == pytest.approx(1.0)
    assert kinds[("bo", "model")]["alpha"] == pytest.approx(kinds[("ann", "bo")]["alpha"])
    assert kinds[("ann", "bo")]["kind"] == "coder-coder"
    # Same segments, same resamples: the coder–coder row equals the plain report's pair, interval included.
    assert {k: kinds[("ann", "bo")][k] for k in ("alpha", "kappa", "ci")} == {k: plain["relevance"]["pairs"][0][k] for k in ("alpha", "kappa", "ci")}
    assert model["alpha_gap"] > 0 and "model" in model["reading"]


def test_model_predictions_by_segment_id_and_checks(per_coder, codebook):
    predictions = _copy_of(per_coder, "bo", codebook).assign(segment_id=ag.unique_segments(per_coder).segment_id)
    shuffled = predictions.iloc[::-1]
    by_id = ag.add_model_coder(per_coder, shuffled, "bot", codebook=codebook)
    positional = ag.add_model_coder(per_coder, predictions.drop(columns="segment_id"), "bot", codebook=codebook)
    assert by_id.equals(positional)
    with pytest.raises(ModelError, match="3 predictions for 9 segments"):
        ag.add_model_coder(per_coder, predictions.drop(columns="segment_id").iloc[:3])
    with pytest.raises(ModelError, match="unknown relevance label"):
        ag.add_model_coder(per_coder, predictions.assign(relevance="maybe"), codebook=codebook)
    with pytest.raises(AgreementError, match="already called 'ann'"):
        ag.add_model_coder(per_coder, predictions, "ann")


def test_model_with_a_single_coder_is_compared_without_a_coder_pair(codebook):
    frame = read_annotations(SINGLE, codebook)
    predictions = pd.DataFrame({"relevance": ["include", "borderline"]})
    report = ag.agreement_report(ag.add_model_coder(frame, predictions), codebook, model="model", n_boot=50)
    relevance = report["relevance"]
    assert relevance["alpha"] is None and relevance["n_segments"] == 0
    assert relevance["model"]["n_segments"] == 2 and relevance["model"]["pairs"][0]["coders"] == ["ann", "model"]
    assert relevance["model"]["reading"].startswith("only one coder")
    table = agreement_table(report, codebook)
    assert "One coder (ann 2 segments)" in table and "ann – model" in table and "present" not in table
    assert "Is the model as reliable" in agreement_html(report, codebook)


# --------------------------------------------------------------------------- formats


def test_table_csv_and_html_formats(per_coder_report, codebook):
    table = agreement_table(per_coder_report, codebook)
    assert f"relevance ({codebook.dimension('relevance').name_en}" in table
    assert "κ (cohen)" in table and "s09" not in table
    rows = list(csv.DictReader(agreement_csv(per_coder_report).splitlines()))
    alpha = next(r for r in rows if r["dimension"] == "relevance" and r["scope"] == "dimension" and r["statistic"] == "alpha")
    assert float(alpha["value"]) == pytest.approx(per_coder_report["relevance"]["alpha"])
    page = agreement_html(per_coder_report, codebook)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == len(per_coder_report)
    assert "http" not in page and "<script" not in page and "<link" not in page  # self-contained
    low, high = per_coder_report["aspect"]["labels"]["culture"]["ci"]["alpha"]
    assert f"[{low:.3f}, {high:.3f}]" in page


def test_html_escapes_coder_names(per_coder, codebook):
    frame = per_coder.assign(coder=per_coder.coder.map({"ann": "<b>ann</b>", "bo": "bo & co"}))
    page = agreement_html(ag.agreement_report(frame, codebook, n_boot=0), codebook)
    assert "<b>ann</b>" not in page and "&lt;b&gt;ann&lt;/b&gt;" in page and "bo &amp; co" in page


# --------------------------------------------------------------------------- command line


def _run(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize("fmt, check", [
    ("table", lambda out: "α (MASI)" in out and "relevance" in out),
    ("json", lambda out: set(json.loads(out)) == {"aspect", "level", "factor", "principle", "relevance"}),
    ("csv", lambda out: out.startswith("dimension,scope,label,coders,statistic")),
    ("html", lambda out: "<svg" in out),
])
def test_cli_agreement_formats(fmt, check):
    result = _run("agreement", str(PER_CODER), "--format", fmt, "--n-boot", "50")
    assert result.exit_code == 0, result.output
    assert check(result.stdout)


def test_cli_agreement_dimension_coders_and_files(tmp_path):
    out = tmp_path / "agreement.json"
    diff = tmp_path / "diff.csv"
    result = _run("agreement", str(THREE_CODERS), "-d", "relevance", "--coders", "ann,bo", "-f", "json",
                  "--out", str(out), "--disagreements", str(diff), "--n-boot", "50")
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert list(report) == ["relevance"] and report["relevance"]["coders"] == ["ann", "bo"]
    assert [r["segment_id"] for r in csv.DictReader(diff.open(encoding="utf-8"))] == ["k1"]
    assert f"wrote {out}" in result.stderr


def test_cli_agreement_refuses_to_overwrite(tmp_path):
    out = tmp_path / "report.txt"
    out.write_text("keep me", encoding="utf-8")
    result = _run("agreement", str(PER_CODER), "--out", str(out), "--n-boot", "0")
    assert result.exit_code != 0 and "already exists" in result.stderr and "--force" in result.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    assert _run("agreement", str(PER_CODER), "--out", str(out), "--n-boot", "0", "--force").exit_code == 0
    assert out.read_text(encoding="utf-8") != "keep me"


@pytest.mark.parametrize("args, message", [
    ([str(SINGLE)], "agreement needs two coders or more"),
    ([str(PER_CODER), "--coders", "ann,zoe"], "unknown coder(s) 'zoe'"),
    ([str(PER_CODER), "-d", "colour"], "unknown dimension 'colour'"),
    ([str(HERE / "missing.csv")], "file not found"),
])
def test_cli_agreement_errors_are_one_clear_line(args, message):
    result = _run("agreement", *args, "--n-boot", "0")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output


def test_cli_adjudicate_writes_final_codes_and_never_overwrites_inputs(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("ann.csv", "bo.csv"):
        (tmp_path / "in" / name).write_bytes((PER_CODER / name).read_bytes())
    out = tmp_path / "in" / "final.csv"
    result = _run("adjudicate", str(tmp_path / "in" / "ann.csv"), str(tmp_path / "in" / "bo.csv"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "9 segment(s)" in result.stderr and "5 with a tie" in result.stderr
    before = out.read_bytes()
    again = _run("adjudicate", str(tmp_path / "in" / "ann.csv"), str(tmp_path / "in" / "bo.csv"), "--out", str(out))
    assert again.exit_code != 0 and "already exists" in again.stderr and out.read_bytes() == before
    into_input = _run("adjudicate", str(tmp_path / "in"), "--out", str(tmp_path / "in" / "ann.csv"), "--force")
    assert into_input.exit_code != 0 and "is one of the input annotation tables" in into_input.stderr
    assert (tmp_path / "in" / "ann.csv").read_bytes() == (PER_CODER / "ann.csv").read_bytes()
    folder_with_final = _run("adjudicate", str(tmp_path / "in"), "--out", str(tmp_path / "other.csv"))
    assert folder_with_final.exit_code != 0 and "already contain coder 'adjudicated'" in folder_with_final.stderr


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, codebook):
    from samverdi_nlp.api import train

    frame = read_annotations([PER_CODER / "ann.csv", THREE_CODERS], codebook)
    folder = tmp_path_factory.mktemp("model") / "tiny"
    train(frame[frame.coder == "ann"], codebook=codebook).save(folder)
    return folder


def test_cli_agreement_with_a_trained_model(trained_model):
    result = _run("agreement", str(PER_CODER), "--model", str(trained_model), "-f", "json", "--n-boot", "50")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for entry in report.values():
        model = entry["model"]
        assert model["name"] == "model" and model["n_segments"] == 8
        assert {tuple(p["coders"]) for p in model["pairs"]} == {("ann", "bo"), ("ann", "model"), ("bo", "model")}
    table = _run("agreement", str(PER_CODER), "--model", str(trained_model), "--n-boot", "0")
    assert "Model 'model' as a coder" in table.stdout and "model-coder" in table.stdout


def test_every_new_command_has_help():
    for command in ("agreement", "adjudicate"):
        result = _run(command, "--help")
        assert result.exit_code == 0 and "--codebook" in result.stdout
