"""The coding scheme, loaded from a TOML file into frozen dataclasses.

The codebook is data: dimensions and labels come from the file, never from
code. The packaged default is ``codebook.toml`` beside this module; every
command takes ``--codebook FILE`` for a team's own scheme.

>>> cb = load_codebook()
>>> cb.dimension_ids
('aspect', 'level', 'factor', 'principle', 'relevance')
>>> cb.dimension("relevance").multi_label
False
>>> cb.dimension("aspect").label_ids
('culture', 'structure', 'process')
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from samverdi_nlp.errors import CodebookError

DEFAULT_CODEBOOK = "codebook.toml"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# Column names of the annotation format that a dimension may not take.
RESERVED_IDS = frozenset(
    {"segment_id", "id", "doc_id", "coder", "text", "lang", "source_kind", "title", "note"}
)


@dataclass(frozen=True)
class Label:
    """One code of a dimension."""

    id: str
    name_en: str
    name_nb: str
    definition: str
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dimension:
    """A coding dimension: multi-label (a set, possibly empty) or single-label (exactly one)."""

    id: str
    name_en: str
    name_nb: str
    multi_label: bool
    definition: str
    labels: tuple[Label, ...]

    @property
    def label_ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.labels)

    def label(self, label_id: str) -> Label:
        for label in self.labels:
            if label.id == label_id:
                return label
        raise CodebookError(
            f"unknown label {label_id!r} in dimension {self.id!r}; "
            f"allowed: {', '.join(self.label_ids)}"
        )


@dataclass(frozen=True)
class Codebook:
    """A whole coding scheme. ``sha256`` identifies its content (models record it)."""

    name: str
    version: str
    dimensions: tuple[Dimension, ...]
    sha256: str
    source: str = ""

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dimensions)

    @property
    def multi_label_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dimensions if d.multi_label)

    @property
    def single_label_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dimensions if not d.multi_label)

    def dimension(self, dimension_id: str) -> Dimension:
        for dim in self.dimensions:
            if dim.id == dimension_id:
                return dim
        raise CodebookError(
            f"unknown dimension {dimension_id!r}; this codebook has: {', '.join(self.dimension_ids)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready), without the source path."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "dimensions": [asdict(d) for d in self.dimensions],
        }


def _require(table: dict[str, Any], key: str, kind: type, where: str, path: str) -> Any:
    if key not in table:
        raise CodebookError(f"{where}: missing key {key!r}", path=path)
    value = table[key]
    if not isinstance(value, kind):
        raise CodebookError(f"{where}: {key!r} must be a {kind.__name__}", path=path)
    return value


def _parse(data: dict[str, Any], path: str) -> Codebook:
    raw_dims = data.get("dimensions")
    if not isinstance(raw_dims, list) or not raw_dims:
        raise CodebookError("no [[dimensions]] defined", path=path)
    dimensions = []
    seen_dims: set[str] = set()
    for i, raw in enumerate(raw_dims, 1):
        where = f"dimension #{i}"
        dim_id = _require(raw, "id", str, where, path)
        where = f"dimension {dim_id!r}"
        if not _ID.match(dim_id) or dim_id in RESERVED_IDS:
            raise CodebookError(
                f"{where}: ids must be lower-case [a-z0-9_] and not one of {sorted(RESERVED_IDS)}",
                path=path,
            )
        if dim_id in seen_dims:
            raise CodebookError(f"{where} is defined twice", path=path)
        seen_dims.add(dim_id)
        raw_labels = _require(raw, "labels", list, where, path)
        if len(raw_labels) < 2 and not raw.get("multi_label", True):
            raise CodebookError(f"{where}: a single-label dimension needs two labels or more", path=path)
        if not raw_labels:
            raise CodebookError(f"{where}: no labels", path=path)
        labels = []
        seen_labels: set[str] = set()
        for j, lab in enumerate(raw_labels, 1):
            label_id = _require(lab, "id", str, f"{where}, label #{j}", path)
            if not _ID.match(label_id):
                raise CodebookError(f"{where}: label id {label_id!r} must be lower-case [a-z0-9_]", path=path)
            if label_id in seen_labels:
                raise CodebookError(f"{where}: label {label_id!r} is defined twice", path=path)
            seen_labels.add(label_id)
            cues = lab.get("cues", [])
            if not isinstance(cues, list) or not all(isinstance(c, str) for c in cues):
                raise CodebookError(f"{where}, label {label_id!r}: cues must be a list of strings", path=path)
            labels.append(
                Label(
                    id=label_id,
                    name_en=str(lab.get("name_en", label_id)),
                    name_nb=str(lab.get("name_nb", lab.get("name_en", label_id))),
                    definition=str(lab.get("definition", "")),
                    cues=tuple(dict.fromkeys(c.strip().lower() for c in cues if c.strip())),
                )
            )
        multi = raw.get("multi_label", True)
        if not isinstance(multi, bool):
            raise CodebookError(f"{where}: multi_label must be true or false", path=path)
        dimensions.append(
            Dimension(
                id=dim_id,
                name_en=str(raw.get("name_en", dim_id)),
                name_nb=str(raw.get("name_nb", raw.get("name_en", dim_id))),
                multi_label=multi,
                definition=str(raw.get("definition", "")),
                labels=tuple(labels),
            )
        )
    content = {
        "name": str(data.get("name", "")),
        "dimensions": [asdict(d) for d in dimensions],
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Codebook(
        name=str(data.get("name", "codebook")),
        version=str(data.get("version", "")),
        dimensions=tuple(dimensions),
        sha256=digest,
        source=path,
    )


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load a codebook TOML file; ``None`` loads the packaged SAMVERDI scheme.

    Raises :class:`CodebookError` naming the file and the problem.
    """
    if path is None:
        text = resources.files("samverdi_nlp").joinpath(DEFAULT_CODEBOOK).read_text(encoding="utf-8")
        source = f"<packaged {DEFAULT_CODEBOOK}>"
    else:
        p = Path(path)
        if not p.is_file():
            raise CodebookError("codebook file not found", path=p)
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CodebookError("codebook is not UTF-8 text; save it as UTF-8", path=p) from exc
        source = str(p)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CodebookError(f"not valid TOML ({exc})", path=source) from exc
    return _parse(data, source)
