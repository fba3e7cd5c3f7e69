"""The Art. 30 records as CSV, XLSX, JSON, Markdown and a self-contained HTML page.

Lists become one item per line in cells (wrapped in XLSX and HTML) and "; "-separated in CSV.
openpyxl is imported only for XLSX.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from lineage.i18n import N_, gettext
from lineage.services.ropa import COLUMNS_30_1, COLUMNS_30_2, HEADER_LABELS, Records

FORMATS = ("csv", "xlsx", "json", "markdown", "html")
SHEETS = {"records_30_1": N_("Art. 30(1)"), "records_30_2": N_("Art. 30(2)")}


def headings(columns: tuple[tuple[str, str], ...], lang: str) -> list[str]:
    _ = gettext(lang)
    return [_(heading) for _key, heading in columns]


def cell(value: Any, sep: str = "\n") -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return sep.join(str(v) for v in value)
    return str(value)


def _label(key: str, lang: str) -> str:
    return gettext(lang)(HEADER_LABELS[key])


def header_lines(records: Records, lang: str) -> list[tuple[str, str]]:
    h = records.header
    return [
        (_label(k, lang), h.get(k) or "-")
        for k in ("controller", "joint_controllers", "representative", "dpo", "as_of", "catalog")
    ]


def to_csv(records: Records, lang: str) -> str:
    """The Art. 30(1) table (one row per purpose). The header block is in the other formats:
    CSV readers expect one table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headings(COLUMNS_30_1, lang))
    for row in records.controller_records:
        writer.writerow([cell(row[k], "; ") for k, _heading in COLUMNS_30_1])
    return out.getvalue()


def to_json(records: Records) -> str:
    return json.dumps(records.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"


def _md(value: Any) -> str:
    return cell(value, "<br>").replace("|", "\\|").replace("\n", " ")


def _tables(records: Records) -> list[tuple[str, Any, list[dict[str, Any]]]]:
    return [
        ("records_30_1", COLUMNS_30_1, records.controller_records),
        ("records_30_2", COLUMNS_30_2, records.processor_records),
    ]


def _document(template: str, records: Records, lang: str) -> str:
    from lineage.i18n import package_dir, render

    css = (package_dir() / "templates" / "documents" / "print.css").read_text()
    return render(
        f"documents/{template}",
        lang,
        labels=HEADER_LABELS,
        header=header_lines(records, lang),
        tables=_tables(records),
        cell=cell,
        md=_md,
        css=css,
    )


def to_markdown(records: Records, lang: str) -> str:
    return _document("ropa.md", records, lang)


def to_html(records: Records, lang: str) -> str:
    """One section per record (the Art. 30 columns as a list), so it reads and prints at
    page width instead of a table some 4,000 pixels wide."""
    return _document("ropa.html", records, lang)


def to_xlsx(records: Records, lang: str) -> bytes:
    """A sheet per record type, named in the document's language: header block, bold frozen
    heading row with an autofilter, wrapped text, column widths, and a print setup
    (landscape, fitted to the page width, the heading row repeated on every page)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    _ = gettext(lang)
    wb = Workbook()
    first = True
    for key, columns, rows in _tables(records):
        if not rows and not first:
            continue
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        # Sheet names: at most 31 characters, none of : \\ / ? * [ ]
        ws.title = _(SHEETS[key])
        first = False
        ws.append([_label("title", lang)])
        ws["A1"].font = Font(bold=True, size=14)
        for label, value in header_lines(records, lang):
            ws.append([label, value])
            ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append([])
        ws.append(headings(columns, lang))
        head_row = ws.max_row
        fill = PatternFill("solid", fgColor="DCE6F1")
        for c in ws[head_row]:
            c.font = Font(bold=True)
            c.fill = fill
            c.alignment = Alignment(wrap_text=True, vertical="top")
        for row in rows:
            ws.append([cell(row[k]) for k, _heading in columns])
            for c in ws[ws.max_row]:
                c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = ws.cell(head_row + 1, 2)
        last = get_column_letter(len(columns))
        ws.auto_filter.ref = f"A{head_row}:{last}{max(ws.max_row, head_row)}"
        ws.print_title_rows = f"{head_row}:{head_row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages down as it takes
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        for i, (k, _heading) in enumerate(columns, start=1):
            longest = max([len(line) for r in rows for line in cell(r[k]).splitlines()] or [10])
            ws.column_dimensions[get_column_letter(i)].width = max(12, min(48, longest + 2))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def render(records: Records, fmt: str, lang: str) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(records, lang)
    text = {
        "csv": lambda: to_csv(records, lang),
        "json": lambda: to_json(records),
        "markdown": lambda: to_markdown(records, lang),
        "html": lambda: to_html(records, lang),
    }[fmt]()
    return text.encode("utf-8")
