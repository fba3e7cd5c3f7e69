"""The Art. 30 records as CSV, XLSX, JSON, Markdown and a self-contained HTML page.

Lists become one item per line in cells (wrapped in XLSX and HTML) and "; "-separated in CSV.
openpyxl is imported only for XLSX.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from lineage.services.ropa import COLUMNS_30_1, COLUMNS_30_2, HEADER_LABELS, Records

FORMATS = ("csv", "xlsx", "json", "markdown", "html")


def headings(columns: tuple[tuple[str, str, str], ...], lang: str) -> list[str]:
    return [da if lang == "da" else en for _, en, da in columns]


def cell(value: Any, sep: str = "\n") -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return sep.join(str(v) for v in value)
    return str(value)


def _label(key: str, lang: str) -> str:
    en, da = HEADER_LABELS[key]
    return da if lang == "da" else en


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
        writer.writerow([cell(row[k], "; ") for k, _, _ in COLUMNS_30_1])
    return out.getvalue()


def to_json(records: Records) -> str:
    return json.dumps(records.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"


def _md(value: Any) -> str:
    return cell(value, "<br>").replace("|", "\\|").replace("\n", " ")


def to_markdown(records: Records, lang: str) -> str:
    lines = [f"# {_label('title', lang)}", ""]
    lines += [f"- **{k}:** {_md(v)}" for k, v in header_lines(records, lang)]
    for key, columns, rows in _tables(records):
        if not rows:
            continue
        lines += ["", f"## {_label(key, lang)}", ""]
        heads = headings(columns, lang)
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("|" + "---|" * len(heads))
        for row in rows:
            lines.append("| " + " | ".join(_md(row[k]) for k, _, _ in columns) + " |")
    return "\n".join(lines) + "\n"


def _tables(records: Records) -> list[tuple[str, Any, list[dict[str, Any]]]]:
    return [
        ("records_30_1", COLUMNS_30_1, records.controller_records),
        ("records_30_2", COLUMNS_30_2, records.processor_records),
    ]


_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: 600; }
table { border-collapse: collapse; font-size: .8rem; }
th, td { border: 1px solid #bbb; padding: .3rem .4rem; vertical-align: top; text-align: left; }
th { background: #e8eef5; position: sticky; top: 0; }
td { white-space: pre-line; min-width: 7rem; }
"""


def to_html(records: Records, lang: str) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(lang)}"><head><meta charset="utf-8">',
        f"<title>{e(_label('title', lang))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(_label('title', lang))}</h1><dl>",
    ]
    parts += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in header_lines(records, lang)]
    parts.append("</dl>")
    for key, columns, rows in _tables(records):
        if not rows:
            continue
        parts.append(f"<h2>{e(_label(key, lang))}</h2><table><thead><tr>")
        parts += [f"<th>{e(h)}</th>" for h in headings(columns, lang)]
        parts.append("</tr></thead><tbody>")
        for row in rows:
            cells = "".join(f"<td>{e(cell(row[k]))}</td>" for k, _, _ in columns)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def to_xlsx(records: Records, lang: str) -> bytes:
    """A proper sheet per record type: header block, bold frozen heading row, wrapped text,
    column widths."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    first = True
    for key, columns, rows in _tables(records):
        if not rows and not first:
            continue
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        ws.title = "Art. 30(1)" if key == "records_30_1" else "Art. 30(2)"
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
            ws.append([cell(row[k]) for k, _, _ in columns])
            for c in ws[ws.max_row]:
                c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = ws.cell(head_row + 1, 2)
        for i, (k, _, _) in enumerate(columns, start=1):
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
