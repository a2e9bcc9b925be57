"""Writes a run's reports: ``summary.json``, ``matrix.md`` and ``matrix.html``.

The HTML matrix is for a person: each cell shows its state, counts and a short
reason; the full message, the links to the serial log and server transcript and
the command that reruns the cell are one click away (``<details>``). The run's
settings, per-board totals and versions, lost boards, an interruption and the
diff against a baseline are at the top.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from harness.report.results import STATES, Cell, Outcome
from harness.report.summary import summarize

LABEL = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "flaky": "flaky", "skip": "skip",
         "not_run": "not run", "deviation": "known deviation", "unexpected_pass": "UNEXPECTED PASS"}
MEANING = {
    "fail": "the port broke the clause",
    "unexpected_pass": "listed as a known deviation, but passes: update the expectations file",
    "error": "the harness, a link, the board or the capture server failed; says nothing about the port",
    "flaky": "passed only after a retry",
    "deviation": "fails as the board's expectations file says",
    "not_run": "never ran: the board was dropped or the run interrupted",
    "pass": "every test citing it passed",
    "skip": "skipped for the board (missing tag or capability)",
}
COLOR = {"pass": "#c8f7c5", "fail": "#f39a9a", "error": "#f5c26b", "flaky": "#f7ecc5", "skip": "#e6e6e6",
         "not_run": "#cfd8e6", "deviation": "#d9c8f0", "unexpected_pass": "#f59ad2"}
DIFF_MARK = {"new failure": "NEW", "fixed": "fixed", "still failing": "still failing", "unchanged": ""}
SETTINGS = (("keyword", "-k"), ("clauses", "--clause"), ("tests", "--test"), ("repeat", "--repeat"),
            ("retries", "--retries"), ("soak", "--soak"))


def _relative(target: str, report_dir: Path) -> str:
    if not target:
        return ""
    try:
        return os.path.relpath(target, report_dir)
    except ValueError:
        return target


def cell_label(cell: Cell | None) -> str:
    """The state with its counts: ``pass 20/20``, ``FAIL 3/20``, ``flaky (2 retried)``, ``skip: tag``."""
    if cell is None:
        return "–"
    text = LABEL[cell.verdict]
    if cell.verdict == "pass" and cell.attempts > 1:
        text += f" {cell.passed}/{cell.attempts}"
    elif cell.verdict in ("fail", "deviation") and cell.attempts > 1:
        text += f" {cell.failed}/{cell.attempts}"
    elif cell.verdict == "flaky":
        text += f" ({cell.reruns} retried)"
    elif cell.verdict == "skip" and cell.skip_kind:
        text += f": {cell.skip_kind}"
    return text


def _settings(summary: dict) -> list[tuple[str, str]]:
    sel = summary.get("selection") or {}
    rows = [("started", summary.get("started", "")), ("duration", f"{summary.get('duration_s', 0)} s")]
    rows += [(flag, ", ".join(map(str, v)) if isinstance(v, list) else str(v))
             for key, flag in SETTINGS if (v := sel.get(key)) not in (None, [], "")]
    if summary.get("seed") is not None:
        rows.append(("seed", str(summary["seed"])))
    if summary.get("capture_url"):
        rows.append(("capture server", summary["capture_url"]))
    rows.append(("result", f"{summary['result']} (exit status {summary['exit_status']})"))
    return rows


def _banners(summary: dict) -> list[tuple[str, str]]:
    """(kind, text) lines that must be read before the matrix."""
    out = []
    if summary.get("interrupted"):
        i = summary["interrupted"]
        out.append(("interrupted", f"INTERRUPTED by {i.get('signal', 'a signal')} after {summary.get('duration_s', 0)} s: "
                                   f"the results cover what ran; {i.get('not_run', 0)} selected tests did not run"))
    for board, lost in summary.get("boards_lost", {}).items():
        out.append(("lost", f"board {board}: {lost['reason']} (log: {lost['log']}); its remaining tests were not run"))
    base = summary.get("baseline")
    if base:
        parts = [f"{len(base[k])} {k}" + (f" ({', '.join(base[k])})" if base[k] and k != "still failing" else "")
                 for k in ("new failure", "fixed", "still failing")]
        out.append(("baseline", f"against the baseline {base['dir']}: " + "; ".join(parts)))
    return out


def _versions(summary: dict, board: str) -> str:
    return summary.get("board_versions", {}).get(board, "")


def _totals(summary: dict, board: str) -> str:
    t = summary["tallies"].get(board, {})
    c = summary["clause_tallies"].get(board, {})
    tests = ", ".join(f"{n} {LABEL[s]}" for s, n in t.items() if n)
    cl = ", ".join(f"{n} {LABEL[s]}" for s in STATES if (n := c.get(s)))
    return f"clauses: {cl or 'none'}; tests: {tests or 'none'}"


# --- markdown ------------------------------------------------------------------------

def write_markdown(summary: dict, path: Path) -> None:
    boards = summary["boards"]
    lines = [f"# Conformance matrix — {summary.get('started', '')}", "",
             f"Result: **{summary['result']}** (exit status {summary['exit_status']})", ""]
    lines += [f"> **{text}**" for _, text in _banners(summary)]
    lines += ["", "| Setting | Value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in _settings(summary)]
    lines += ["", "| Board | Kind | Versions | Totals |", "|---|---|---|---|"]
    for b in boards:
        lines.append(f"| `{b}` | {summary.get('board_kinds', {}).get(b, '')} | {_versions(summary, b)} | "
                     f"{_totals(summary, b)} |")
    lines += ["", "| Clause | Area | Title | " + " | ".join(boards) + " |",
              "|---|---|---|" + "---|" * len(boards)]
    notes = []
    for clause, info in summary["clauses"].items():
        row = []
        for b in boards:
            raw = info["boards"].get(b)
            cell = Cell(**{k: v for k, v in raw.items() if k in Cell.__dataclass_fields__}) if raw else None
            text = cell_label(cell)
            if raw and DIFF_MARK.get(raw.get("diff", "")):
                text += f" ({DIFF_MARK[raw['diff']]})"
            row.append(text)
            if cell is not None and cell.verdict not in ("pass", "skip"):
                notes.append((clause, b, cell, raw))
        title = info["title"] + (f" *(extension: {info['extension']})*" if info.get("extension") else "")
        lines.append(f"| {clause} | {info['area']} | {title} | " + " | ".join(row) + " |")
    if notes:
        lines += ["", "## Cells to look at", ""]
        for clause, board, cell, raw in notes:
            links = [f"[{name}]({_relative(target, path.parent)})"
                     for name, target in (("serial log", cell.log), ("server transcript", cell.transcript)) if target]
            link = f" ({', '.join(links)})" if links else ""
            expected = f" Expected: {cell.expected}." if cell.expected else ""
            lines.append(f"* **{clause}** on `{board}` — {LABEL[cell.verdict]}: {cell.reason}{link}{expected}")
            if raw.get("rerun"):
                lines.append(f"  rerun: `{raw['rerun']}`")
    for p in summary["unclaused_problems"]:
        lines.append(f"* `{p['nodeid']}` on `{p['board']}` — {LABEL[p['state']]}: {p['message']}")
    path.write_text("\n".join(lines) + "\n")


# --- html ----------------------------------------------------------------------------

CSS = """body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1em}
td,th{border:1px solid #999;padding:3px 6px;vertical-align:top;text-align:left}
.cell{min-width:11em;max-width:22em}.label{font-weight:bold}.why{font-size:80%;color:#333;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap;max-width:21em}details{font-size:80%}details pre{white-space:pre-wrap;
max-width:60em;max-height:30em;overflow:auto;background:#fff;border:1px solid #ccc;padding:4px}
.banner{padding:6px 10px;margin:6px 0;font-weight:bold;border:2px solid #333}
.b-interrupted{background:#f5c26b}.b-lost{background:#f5c26b}.b-baseline{background:#e8eef7}
.diff{font-size:75%;font-weight:bold;margin-left:4px;padding:0 3px;border:1px solid #333}
.d-new{background:#c00;color:#fff}.ext{font-size:75%;color:#555}code{font-size:90%}
""" + "".join(f".st-{s}{{background:{c}}}" for s, c in COLOR.items())


def _html_cell(clause: str, board: str, raw: dict | None, report_dir: Path) -> str:
    esc = html.escape
    if raw is None:
        return "<td>–</td>"
    cell = Cell(**{k: v for k, v in raw.items() if k in Cell.__dataclass_fields__})
    diff = raw.get("diff", "")
    body = f'<span class="label">{esc(cell_label(cell))}</span>'
    if DIFF_MARK.get(diff):
        body += f'<span class="diff{" d-new" if diff == "new failure" else ""}">{esc(DIFF_MARK[diff])}</span>'
    if cell.reason and cell.verdict != "pass":
        body += f'<div class="why" title="{esc(cell.reason)}">{esc(cell.reason)}</div>'
    more = [f"<div>tests: {esc(', '.join(cell.tests))}</div>"]
    if cell.expected:
        more.append(f"<div>known deviation: {esc(cell.expected)}</div>")
    links = [f'<a href="{esc(_relative(target, report_dir))}">{name}</a>'
             for name, target in (("serial log", cell.log), ("server transcript", cell.transcript)) if target]
    if links:
        more.append("<div>" + " · ".join(links) + "</div>")
    if raw.get("rerun"):
        more.append(f"<div>rerun: <code>{esc(raw['rerun'])}</code></div>")
    if cell.details and cell.verdict != "pass":
        more.append(f"<pre>{esc(cell.details)}</pre>")
    body += f"<details><summary>details</summary>{''.join(more)}</details>"
    return (f'<td id="{esc(clause)}-{esc(board)}" class="cell st-{cell.verdict}" data-state="{cell.verdict}"'
            f' data-diff="{esc(diff)}">{body}</td>')


def write_html(summary: dict, path: Path) -> None:
    esc = html.escape
    boards = summary["boards"]
    banners = "".join(f'<div class="banner b-{kind}">{esc(text)}</div>' for kind, text in _banners(summary))
    settings = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _settings(summary))
    board_rows = "".join(
        f"<tr><th>{esc(b)}</th><td>{esc(summary.get('board_kinds', {}).get(b, ''))}</td>"
        f"<td>{esc(_versions(summary, b))}</td><td>{esc(_totals(summary, b))}</td></tr>" for b in boards)
    legend = "".join(f'<tr><td class="st-{s}">{esc(LABEL[s])}</td><td>{esc(MEANING[s])}</td></tr>' for s in STATES)
    rows = []
    for clause, info in summary["clauses"].items():
        ext = f'<div class="ext">extension: needs {esc(info["extension"])}</div>' if info.get("extension") else ""
        cells = "".join(_html_cell(clause, b, info["boards"].get(b), path.parent) for b in boards)
        rows.append(f"<tr><th>{esc(clause)}</th><td>{esc(info['area'])}</td><td>{esc(info['title'])}{ext}</td>{cells}</tr>")
    extra = "".join(f"<li><code>{esc(p['nodeid'])}</code> on {esc(p['board'])}: {esc(LABEL[p['state']])}: "
                    f"{esc(p['message'])}</li>" for p in summary["unclaused_problems"])
    doc = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>honch-hil conformance {esc(str(summary.get('started', '')))}</title>
<style>{CSS}</style></head>
<body><h1 class="st-{'pass' if summary['passed'] else 'fail'}">Conformance matrix: {esc(summary['result'])}</h1>
{banners}
<table><caption>Run</caption>{settings}</table>
<table><caption>Boards</caption><tr><th>Board</th><th>Kind</th><th>Versions (information)</th><th>Totals</th></tr>{board_rows}</table>
<table id="matrix"><tr><th>Clause</th><th>Area</th><th>Title</th>{''.join(f'<th>{esc(b)}</th>' for b in boards)}</tr>
{chr(10).join(rows)}
</table>
{f'<h2>Tests citing no clause</h2><ul>{extra}</ul>' if extra else ''}
<table><caption>States</caption>{legend}</table>
</body></html>
"""
    path.write_text(doc)


def write_reports(records: list[Outcome], meta: dict, report_dir: Path, baseline: dict | None = None) -> dict:
    summary = summarize(records, meta, baseline)
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    write_markdown(summary, report_dir / "matrix.md")
    write_html(summary, report_dir / "matrix.html")
    return summary
