"""The outcome and safety reports as CSV (for analysis: exact values, one line per table cell) and as plain text
(for the command line). The same ``Report`` the screen and the signed PDF show.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.scoring.summary import Cell, Count, GradeCounts, Report, Summary, Table, cell_text

CSV_COLUMNS = ("report", "table", "table_title", "row", "row_label", "column", "column_label", "text", "value", "n",
               "of", "pending", "median", "min", "max", "missing", "g1", "g2", "g3", "g4", "g5")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _exact(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _safe(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection): a leading = + - @ is quoted."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _numbers(cell: Cell) -> dict[str, str]:
    if isinstance(cell, Count):
        return {"value": _exact(cell.percent), "n": str(cell.n), "of": str(cell.of), "pending": str(cell.pending)}
    if isinstance(cell, Summary):
        return {"value": _exact(cell.median), "n": str(cell.n), "median": _exact(cell.median),
                "min": _exact(cell.minimum), "max": _exact(cell.maximum), "missing": str(cell.missing)}
    if isinstance(cell, GradeCounts):
        return {"n": str(cell.any_grade), "of": str(cell.of), "pending": str(cell.pending),
                **{f"g{g}": str(c) for g, c in enumerate(cell.counts, start=1)}}
    if isinstance(cell, (int, Decimal)) and not isinstance(cell, bool):
        return {"value": _exact(cell)}
    return {}


def to_csv(report: Report, lang: Lang) -> bytes:
    """UTF-8 (with a byte-order mark, so spreadsheets read the accents), comma-separated, dot decimals, exact
    values; the ``text`` column is the cell as shown (rounded, in the chosen language)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    title = report.title.get(lang)
    for table in report.tables:
        for row in table.rows:
            for column, cell in zip(table.columns, row.cells, strict=True):
                writer.writerow({
                    "report": _safe(title), "table": table.key, "table_title": _safe(table.title.get(lang)),
                    "row": _safe(row.key), "row_label": _safe(row.label.get(lang)), "column": column.key,
                    "column_label": _safe(column.label.get(lang)), "text": _safe(cell_text(cell, lang)),
                    **_numbers(cell)})
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def table_text(table: Table, lang: Lang) -> str:
    header = [table.corner.get(lang), *(c.label.get(lang) for c in table.columns)]
    body = [[row.label.get(lang), *(cell_text(c, lang) for c in row.cells)] for row in table.rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [table.title.get(lang), "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in body]
    if not body:
        lines.append(L("(none)", "(aucun)").get(lang))
    if table.note is not None:
        lines.append(table.note.get(lang))
    return "\n".join(lines)


def to_text(report: Report, lang: Lang) -> str:
    parts = [f"{report.title.get(lang)} — {report.subtitle.get(lang)}"]
    if not report.ready:
        parts.append(L("NOT READY: ", "PAS PRÊTE : ").get(lang) + "; ".join(w.get(lang) for w in report.waiting))
    parts += [table_text(t, lang) for t in report.tables]
    return "\n\n".join(parts) + "\n"
