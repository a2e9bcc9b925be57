"""matrix.html as a person sees it: rendered by headless Chromium (Debian package ``chromium``,
installed by ``make test``), every state visible, its details one click away."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib

import pytest

from harness.report.render import COLOR
from harness.report.results import Outcome
from runs import plant_report

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed (Debian package chromium; make test installs it)"
    return path


def planted_states(run_dir):
    log = run_dir / "artifacts" / "boards" / "desk" / "t.log"
    log.parent.mkdir(parents=True)
    log.write_text("0.1 > b'ping'\n")
    props = {"board_log": str(log)}
    records = [
        Outcome("conformance/test_wire.py::test_headers[desk]", "desk", ["C1"], "passed", properties=props),
        Outcome("conformance/test_wire.py::test_stream_id[desk]", "desk", ["C2"], "failed",
                message="assert 'X-Honch-Stream-Id' in headers", details="E   AssertionError: no stream id header\nfull traceback here",
                properties=props),
        Outcome("conformance/test_rate_limit.py::test_spacing[desk]", "desk", ["C21"], "failed", when="setup",
                message="[board desk, log t.log] board desk: could not start the agent: raw REPL timed out",
                properties={**props, "result": "error"}),
        Outcome("conformance/test_backoff.py::test_backoff[desk]", "desk", ["C23"], "rerun", message="gap 2.9 s"),
        Outcome("conformance/test_backoff.py::test_backoff[desk]", "desk", ["C23"], "passed"),
        Outcome("conformance/test_identity.py::test_battery[desk]", "desk", ["C48"], "skipped",
                message="board desk lacks tag(s) battery (boards.toml)", properties={"skip_kind": "tag"}),
        Outcome("conformance/test_crash.py::test_excepthook[desk]", "desk", ["C35"], "skipped",
                message="not run: board desk was lost at test test_spacing", properties={"skip_kind": "board_dropped"}),
        Outcome("conformance/test_rate_limit.py::test_retry_after[desk]", "desk", ["C24"], "failed",
                message="waited 0.1 s, Retry-After said 2 s"),
        Outcome("conformance/test_wire.py::test_ids[desk]", "desk", ["C3"], "passed"),
    ]
    for i in range(1, 21):  # a repeated test: 20/20
        records.append(Outcome(f"conformance/test_wire.py::test_order[desk-{i}-20]", "desk", ["C5"], "passed"))
    return plant_report(run_dir, records, boards=["desk"], seed=99, board_kinds={"desk": "serial"},
                        deviations={"desk": {"C24": "ignores Retry-After", "C3": "wrong message ids"}},
                        selection={"repeat": 20, "soak": 1})


EXPECTED = {"C1": ("pass", "pass"), "C2": ("fail", "FAIL"), "C21": ("error", "ERROR"), "C23": ("flaky", "flaky (1 retried)"),
            "C48": ("skip", "skip: tag"), "C35": ("not_run", "not run"), "C24": ("deviation", "known deviation"),
            "C3": ("unexpected_pass", "UNEXPECTED PASS"), "C5": ("pass", "pass 20/20")}

PROBE = """<script>
const out = [];
for (const td of document.querySelectorAll('td[data-state]')) {
  const r = td.getBoundingClientRect(), st = getComputedStyle(td), label = td.querySelector('.label');
  const details = td.querySelector('details');
  out.push([td.id, td.dataset.state, label.innerText, r.width > 0 && r.height > 0 && st.visibility === 'visible',
            st.backgroundColor, details ? details.open : null, label.getBoundingClientRect().height > 0]);
}
const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def _png_pixels(path):
    """RGB(A) pixels of an 8-bit PNG (what Chromium writes), for checking colours."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, prev, pixels = zlib.decompress(idat), width * channels, bytearray(width * channels), set()
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels.update(tuple(line[i:i + 3]) for i in range(0, stride, channels))
        prev = line
    return pixels


def test_every_state_is_visible_with_its_colour_label_and_details(tmp_path):
    run_dir = tmp_path / "report"
    planted_states(run_dir)
    html = (run_dir / "matrix.html").read_text()
    probe_page = run_dir / "probe.html"
    probe_page.write_text(html.replace("</body>", PROBE + "</body>"))
    common = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1500,1400"]
    dom = subprocess.run([*common, "--dump-dom", probe_page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    import json
    found = {row[0]: row for row in json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S).group(1)
                                               .replace("&quot;", '"').replace("&amp;", "&"))}
    for clause, (state, label) in EXPECTED.items():
        cell_id, got_state, got_label, visible, background, opened, label_shown = found[f"{clause}-desk"]
        assert (got_state, got_label) == (state, label), clause
        assert visible and label_shown, f"{clause} ({state}) is not visible"
        r, g, b = (int(COLOR[state][i:i + 2], 16) for i in (1, 3, 5))
        assert background == f"rgb({r}, {g}, {b})", (clause, background)
        assert opened is False  # details are one click away, not in the way
    shot = tmp_path / "matrix.png"
    done = subprocess.run([*common, f"--screenshot={shot}", (run_dir / "matrix.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = _png_pixels(shot)
    for state, colour in COLOR.items():
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert rgb in pixels, f"no {state} colour {colour} in the screenshot"
    shutil.copy(shot, run_dir / "matrix.png")  # kept beside the report for a person to look at


def test_details_hold_the_full_message_links_and_the_rerun_command(tmp_path):
    run_dir = tmp_path / "report"
    summary = planted_states(run_dir)
    html = (run_dir / "matrix.html").read_text()
    fail = re.search(r'<td id="C2-desk".*?</td>', html, re.S).group(0)
    assert "full traceback here" in fail and 'href="artifacts/boards/desk/t.log"' in fail
    assert "--test conformance/test_wire.py::test_stream_id" in fail and "--seed 99" in fail
    error = re.search(r'<td id="C21-desk".*?</td>', html, re.S).group(0)
    assert "could not start the agent" in error and "serial log" in error
    assert summary["exit_status"] == 1  # a fail and an unexpected pass
    for text in ("Totals", "seed", "--repeat", "not run"):
        assert text in html
