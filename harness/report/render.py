"""Writes a run's reports: ``matrix.md``, ``matrix.html`` and ``summary.json``."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from harness.protocol import CLAUSES
from harness.report.results import (Cell, Outcome, board_tallies, boards_of, build_matrix,
                                    run_passed)

SYMBOL = {"pass": "pass", "fail": "FAIL", "flaky": "flaky", "skip": "skip"}
COLOR = {"pass": "#c8f7c5", "fail": "#f7c5c5", "flaky": "#f7ecc5", "skip": "#e6e6e6"}


def _relative(target: str, report_dir: Path) -> str:
    if not target:
        return ""
    try:
        return os.path.relpath(target, report_dir)
    except ValueError:
        return target


def summarize(records: list[Outcome], meta: dict) -> dict:
    matrix = build_matrix(records)
    boards = meta.get("boards") or boards_of(records)
    return {
        **meta,
        "passed": run_passed(matrix, records),
        "boards": boards,
        "tallies": board_tallies(records),
        "clauses": {
            clause: {
                "area": CLAUSES[clause][0],
                "title": CLAUSES[clause][1],
                "boards": {b: cell.__dict__ for b, cell in cells.items()},
            }
            for clause, cells in matrix.items()
        },
        "unclaused_failures": [
            {"nodeid": r.nodeid, "board": r.board, "message": r.message}
            for r in records if r.outcome == "failed" and not r.clauses
        ],
    }


def _cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "–"
    text = SYMBOL[cell.verdict]
    if cell.verdict == "fail" and cell.attempts > 1:
        text += f" ({cell.failed}/{cell.attempts})"
    return text


def write_markdown(summary: dict, path: Path) -> None:
    boards = summary["boards"]
    lines = [f"# Conformance matrix — {summary.get('started', '')}", "",
             f"Result: **{'PASS' if summary['passed'] else 'FAIL'}**", ""]
    for b in boards:
        t = summary["tallies"].get(b, {})
        lines.append(f"* `{b}`: {t.get('pass', 0)} passed, {t.get('fail', 0)} failed, "
                     f"{t.get('flaky', 0)} flaky, {t.get('skip', 0)} skipped tests")
    lines += ["", "| Clause | Area | " + " | ".join(boards) + " |",
              "|---|---|" + "---|" * len(boards)]
    failures = []
    for clause, info in summary["clauses"].items():
        cells = info["boards"]
        row = []
        for b in boards:
            cell = Cell(**cells[b]) if b in cells else None
            row.append(_cell_text(cell))
            if cell is not None and cell.verdict in ("fail", "flaky"):
                failures.append((clause, b, cell))
        lines.append(f"| {clause} | {info['area']} | " + " | ".join(row) + " |")
    if failures:
        lines += ["", "## Failures and flaky clauses", ""]
        for clause, board, cell in failures:
            links = [f"[{name}]({_relative(target, path.parent)})"
                     for name, target in (("serial log", cell.log), ("server transcript", cell.transcript)) if target]
            link = f" ({', '.join(links)})" if links else ""
            lines.append(f"* **{clause}** on `{board}` — {cell.verdict}: {cell.reason}{link}")
    for f in summary["unclaused_failures"]:
        lines.append(f"* `{f['nodeid']}` on `{f['board']}` failed: {f['message']}")
    path.write_text("\n".join(lines) + "\n")


def write_html(summary: dict, path: Path) -> None:
    boards = summary["boards"]
    esc = html.escape
    head = "".join(f"<th>{esc(b)}</th>" for b in boards)
    rows = []
    for clause, info in summary["clauses"].items():
        tds = []
        for b in boards:
            raw = info["boards"].get(b)
            cell = Cell(**raw) if raw else None
            if cell is None:
                tds.append("<td>–</td>")
                continue
            tip = esc(cell.reason or ", ".join(cell.tests))
            body = esc(_cell_text(cell))
            for name, target in (("log", cell.log), ("server", cell.transcript)):
                if target:
                    body += f' <a href="{esc(_relative(target, path.parent))}">{name}</a>'
            tds.append(f'<td style="background:{COLOR[cell.verdict]}" title="{tip}">{body}'
                       + (f"<div class=why>{esc(cell.reason)}</div>" if cell.verdict in ("fail", "flaky") else "")
                       + "</td>")
        rows.append(f"<tr><th title=\"{esc(info['title'])}\">{clause}</th><td>{esc(info['area'])}</td>"
                    f"<td>{esc(info['title'])}</td>{''.join(tds)}</tr>")
    verdict = "PASS" if summary["passed"] else "FAIL"
    doc = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>honch-hil conformance {esc(str(summary.get('started', '')))}</title>
<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:3px 6px;vertical-align:top}}
.why{{font-size:80%;max-width:28em}}</style></head>
<body><h1>Conformance matrix: {verdict}</h1>
<table><tr><th>Clause</th><th>Area</th><th>Title</th>{head}</tr>
{chr(10).join(rows)}
</table></body></html>
"""
    path.write_text(doc)


def write_reports(records: list[Outcome], meta: dict, report_dir: Path) -> dict:
    summary = summarize(records, meta)
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    write_markdown(summary, report_dir / "matrix.md")
    write_html(summary, report_dir / "matrix.html")
    return summary
