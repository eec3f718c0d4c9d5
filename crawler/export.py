"""``newswatch export``: articles as JSON Lines or CSV, streamed row by row.

JSON Lines keeps every field as it is (``matches`` is a list). CSV is for spreadsheets: ``matches``
becomes ``watches`` (ids joined by ``;``) and ``keywords``; a cell taken from a feed that starts with
``= + - @`` (or a tab / carriage return) is prefixed with ``'`` so a spreadsheet shows it instead of
running it as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

FIELDS = ["id", "source_id", "outlet", "country", "url", "canonical_url", "title", "author", "published_at",
          "fetched_at", "language", "summary_only", "text_pruned_at", "text"]
CSV_FIELDS = FIELDS[:-1] + ["watches", "keywords", "text"]
# Columns that come from feeds and pages, i.e. from people we do not control.
_UNTRUSTED = {"url", "canonical_url", "title", "author", "text", "keywords", "outlet"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_jsonl(rows: Iterable[dict], out: TextIO) -> int:
    n = 0
    for row in rows:
        record = {k: row[k] for k in FIELDS}
        record["summary_only"] = bool(record["summary_only"])
        record["matches"] = row["matches"]
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(rows: Iterable[dict], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for row in rows:
        record = {k: row[k] for k in FIELDS}
        record["watches"] = ";".join(dict.fromkeys(m["watch"] for m in row["matches"]))
        record["keywords"] = ";".join(dict.fromkeys(m["keyword"] for m in row["matches"]))
        writer.writerow({k: (_defuse(v) if k in _UNTRUSTED else v) for k, v in record.items()})
        n += 1
    return n


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
