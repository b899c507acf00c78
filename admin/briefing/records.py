"""Coded records: what briefings are built from, and how they travel
between consoles.

A coded record is a case (a linked group of reports about one incident) as
reviewers coded it: months, province, tactics, communities, attribution,
disposition, consents and the envelope ids it links. Never report text,
receipts or envelope content. Released vignettes (text a reviewer wrote and
confirmed for release) are kept apart and never exported.

Formats read by :func:`read_records`:

* CSV with the columns of ``shared/cases/coded_cases.csv`` (the export CSV
  of a console has the same columns), optionally ``person_ref``,
  ``consent_quote``, ``vignette_en``, ``vignette_fr``;
* JSON written by :func:`export_json` (``{"format": "tnr-coded-records",
  "version": 1, "records": [...]}``).

Merging (:func:`admin.briefing.record_store.import_records`) de-duplicates
by envelope id: a report addressed to several organizations, coded by
each, counts once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.schema.codes import COMMUNITY_ALIASES

from ..errors import ConsoleError
from . import codes

EXPORT_FORMAT = "tnr-coded-records"
EXPORT_VERSION = 1

#: Columns of ``shared/cases/coded_cases.csv``, in order: the CSV interchange.
CSV_COLUMNS = (
    "case_id",
    "envelope_ids",
    "incident_month",
    "report_month",
    "province",
    "tactics",
    "communities",
    "attribution",
    "confidence",
    "disposition",
    "consent_statistics",
)
OPTIONAL_COLUMNS = ("person_ref", "consent_quote")
VIGNETTE_COLUMNS = ("vignette_en", "vignette_fr")


class CodedRecordError(ConsoleError):
    """A coded record cannot be read. The message names the record and the
    field, never a value (a wrong file could hold anything)."""


@dataclass(frozen=True, slots=True)
class CodedRecord:
    """One coded case. Multi-select fields are sorted tuples of codes."""

    case_id: str
    envelope_ids: tuple[str, ...]
    incident_month: str
    report_month: str
    province: str
    tactics: tuple[str, ...]
    communities: tuple[str, ...]
    attribution: str
    confidence: str
    disposition: str
    consent_statistics: bool
    consent_quote: bool = False
    person_ref: str | None = None
    vignette_en: str | None = field(default=None, repr=False)
    vignette_fr: str | None = field(default=None, repr=False)
    #: Where the coding came from ("local" or an import's label); not exported.
    source: str = "local"

    def coded_fields(self) -> dict[str, str]:
        """The record as interchange strings (no vignettes: never exported)."""
        return {
            "case_id": self.case_id,
            "envelope_ids": ";".join(self.envelope_ids),
            "incident_month": self.incident_month,
            "report_month": self.report_month,
            "province": self.province,
            "tactics": ";".join(self.tactics),
            "communities": ";".join(self.communities),
            "attribution": self.attribution,
            "confidence": self.confidence,
            "disposition": self.disposition,
            "consent_statistics": "yes" if self.consent_statistics else "no",
            "consent_quote": "yes" if self.consent_quote else "no",
            "person_ref": self.person_ref or "",
        }


def _yes_no(value: str, name: str, where: str) -> bool:
    v = value.strip().lower()
    if v in ("yes", "true", "1"):
        return True
    if v in ("no", "false", "0", ""):
        return False
    raise CodedRecordError(f"{where}: {name} must be yes or no")


def _codes(
    value: str, allowed: Iterable[str], name: str, where: str, aliases: dict[str, str] | None = None
) -> tuple[str, ...]:
    allowed_set = set(allowed)
    out = set()
    for part in value.split(";"):
        code = part.strip()
        if not code:
            continue
        if aliases:
            code = aliases.get(code, code)
        if code not in allowed_set:
            raise CodedRecordError(f"{where}: {name} has a code outside the taxonomy")
        out.add(code)
    return tuple(sorted(out))


def _month(value: str, name: str, where: str) -> str:
    v = value.strip()
    if not codes.MONTH_RE.match(v):
        raise CodedRecordError(f"{where}: {name} must be YYYY-MM")
    return v


def _one_of(value: str, allowed: Sequence[str], name: str, where: str) -> str:
    v = value.strip()
    if v not in allowed:
        raise CodedRecordError(f"{where}: {name} has a code outside the taxonomy")
    return v


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def record_from_mapping(row: dict[str, Any], where: str, *, with_vignettes: bool) -> CodedRecord:
    """Validate one record given as strings (a CSV row or a JSON object).

    Raises:
        CodedRecordError: a missing column or a value outside the taxonomy.
    """
    missing = [name for name in CSV_COLUMNS if row.get(name) is None]
    if missing:
        raise CodedRecordError(f"{where}: missing {', '.join(missing)}")
    case_id = str(row["case_id"]).strip()
    if not codes.CASE_ID_RE.match(case_id):
        raise CodedRecordError(f"{where}: case_id must be 1-64 letters, digits or ._:-")
    envelope_ids = tuple(
        sorted({e.strip().lower() for e in str(row["envelope_ids"]).split(";") if e.strip()})
    )
    if not envelope_ids or not all(codes.ENVELOPE_ID_RE.match(e) for e in envelope_ids):
        raise CodedRecordError(f"{where}: envelope_ids must be 16 or 32 hex digits, ;-separated")
    tactics = _codes(str(row["tactics"]), codes.TACTICS, "tactics", where)
    if not tactics:
        raise CodedRecordError(f"{where}: tactics is empty")
    person_ref = _optional_text(row.get("person_ref"))
    if person_ref is not None and not codes.CASE_ID_RE.match(person_ref):
        raise CodedRecordError(f"{where}: person_ref must be 1-64 letters, digits or ._:-")
    consent_statistics = _yes_no(str(row["consent_statistics"]), "consent_statistics", where)
    consent_quote = _yes_no(str(row.get("consent_quote") or ""), "consent_quote", where)
    return CodedRecord(
        case_id=case_id,
        envelope_ids=envelope_ids,
        incident_month=_month(str(row["incident_month"]), "incident_month", where),
        report_month=_month(str(row["report_month"]), "report_month", where),
        province=_one_of(str(row["province"]), codes.PROVINCES, "province", where),
        tactics=tactics,
        communities=_codes(
            str(row["communities"]), codes.COMMUNITIES, "communities", where, COMMUNITY_ALIASES
        ),
        attribution=_one_of(str(row["attribution"]), codes.ATTRIBUTIONS, "attribution", where),
        confidence=_one_of(str(row["confidence"]), codes.CONFIDENCES, "confidence", where),
        disposition=_one_of(str(row["disposition"]), codes.DISPOSITIONS, "disposition", where),
        consent_statistics=consent_statistics,
        consent_quote=consent_quote,
        person_ref=person_ref,
        vignette_en=_optional_text(row.get("vignette_en")) if with_vignettes else None,
        vignette_fr=_optional_text(row.get("vignette_fr")) if with_vignettes else None,
    )


def parse_csv(text: str, *, with_vignettes: bool = True) -> list[CodedRecord]:
    """Records from CSV with :data:`CSV_COLUMNS` (extra columns other than
    the optional ones are ignored, so no stray free text is ever read)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise CodedRecordError("the CSV file is empty")
    missing = [c for c in CSV_COLUMNS if c not in reader.fieldnames]
    if missing:
        raise CodedRecordError(f"the CSV file lacks the columns {', '.join(missing)}")
    return [
        record_from_mapping(row, f"line {reader.line_num}", with_vignettes=with_vignettes) for row in reader
    ]


def parse_json(text: str) -> list[CodedRecord]:
    """Records from a console's JSON export (:func:`export_json`)."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise CodedRecordError("the file is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise CodedRecordError(f"the JSON file is not a {EXPORT_FORMAT} export")
    if doc.get("version") != EXPORT_VERSION:
        raise CodedRecordError(f"unsupported export version (this console reads {EXPORT_VERSION})")
    items = doc.get("records")
    if not isinstance(items, list):
        raise CodedRecordError("the export has no record list")
    out = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise CodedRecordError(f"record {i}: not an object")
        # An export never carries vignettes; ignore any that a file claims.
        out.append(record_from_mapping(item, f"record {i}", with_vignettes=False))
    return out


def read_release_docs(path: Path) -> list[Any]:
    """The release ledger carried by a JSON export (``[]`` for CSV or an
    export from before the ledger); validated by the ledger's reader.

    Raises:
        CodedRecordError: ``releases`` is not a list.
    """
    text = path.read_text(encoding="utf-8-sig")
    if not (path.suffix.lower() == ".json" or text.lstrip().startswith("{")):
        return []
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CodedRecordError("the file is not JSON") from exc
    releases = doc.get("releases", []) if isinstance(doc, dict) else []
    if not isinstance(releases, list):
        raise CodedRecordError("the export's release ledger is not a list")
    return releases


def read_records(path: Path) -> list[CodedRecord]:
    """Records from a ``.json`` export or a ``.csv`` file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return parse_json(text)
    return parse_csv(text)


def export_json(records: Iterable[CodedRecord], source: str, releases: Sequence[Any] = ()) -> str:
    """The JSON export: coded fields only (no vignettes), sorted by case id,
    and the release ledger (``releases``: published briefings' numbers,
    :mod:`admin.briefing.ledger`), which travels with the records so that
    the next release, wherever it is built, is audited against them."""
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "source": source,
        "records": [r.coded_fields() for r in sorted(records, key=lambda r: r.case_id)],
        "releases": list(releases),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def export_csv(records: Iterable[CodedRecord]) -> str:
    """The CSV export: :data:`CSV_COLUMNS` then :data:`OPTIONAL_COLUMNS`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*CSV_COLUMNS, *OPTIONAL_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for r in sorted(records, key=lambda r: r.case_id):
        writer.writerow(r.coded_fields())
    return buf.getvalue()
