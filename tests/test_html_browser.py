"""`check --format html` opened in a real headless Chromium (Debian's `chromium`).

The report is written by the command a user types, then loaded from a file:// URL and
read through the DevTools protocol (tests/browser.py): counts as rendered, filters
clicked with a real mouse and keyboard, hostile manifest values, contrast in the light,
dark and print styles. Without chromium these tests skip (fail under CI=true).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Chromium, Page, screenshot
from tests.tools import tool

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = Path("tests/fixtures/seed-as-written")  # relative to ROOT, as a user types it
HOSTILE = ROOT / "tests" / "fixtures" / "html" / "hostile.yaml"
HOSTILE_FILE = "<img src=x onerror=alert('file')>.yaml"
# What the seed's plan as written gets (tests/test_seed_as_written.py pins each finding).
SEED_SUMMARY = {
    "resources": 7,
    "errors": 42,
    "warnings": 20,
    "infos": 0,
    "exempted": 0,
    "inputErrors": 0,
}
SEED_RESOURCES_WITH_FINDINGS = 5  # all but the fluentd ConfigMap and the NetworkPolicy
SEED_RULES = 16


def write_report(tmp_path: Path, *args: str, cwd: Path = ROOT) -> Path:
    out = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *args, "--rego", "off",
         "--format", "html", "--output", str(out)],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode in (1, 2), result.stderr  # findings (1) or input errors (2)
    assert result.stdout == ""
    return out


@pytest.fixture(scope="module")
def chromium() -> str:
    return tool("chromium")


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    with Chromium(chromium, tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture
def page(browser: Chromium) -> Iterator[Page]:
    with browser.page() as opened:
        opened.send("Emulation.setEmulatedMedia", media="", features=[])
        yield opened


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(tmp_path_factory.mktemp("seed"), str(SEED_DIR))


def visible(page: Page, selector: str) -> int:
    """How many elements matching `selector` the browser really lays out and shows."""
    return int(
        page.evaluate(
            f"Array.from(document.querySelectorAll({json.dumps(selector)}))"
            ".filter((el) => el.checkVisibility()).length"
        )
    )


def visible_rules(page: Page) -> set[str]:
    return set(
        page.evaluate(
            "Array.from(document.querySelectorAll('#findings tr[data-rule]'))"
            ".filter((row) => row.checkVisibility()).map((row) => row.dataset.rule)"
        )
    )


def problems(page: Page) -> list[dict[str, object]]:
    """Dialogs, uncaught exceptions, console errors (a CSP refusal is one) the page caused."""
    kinds = {"Page.javascriptDialogOpening", "Runtime.exceptionThrown"}
    found = [event for event in page.events if event.get("method") in kinds]
    found += [
        event
        for event in page.events
        if event.get("method") == "Log.entryAdded"
        or (
            event.get("method") == "Runtime.consoleAPICalled"
            and event["params"]["type"] in ("error", "warning", "assert")
        )
    ]
    return found


def test_seed_report_renders_the_counts(page: Page, seed_report: Path) -> None:
    page.navigate(seed_report.as_uri())
    assert page.evaluate("document.title") == (
        "autobot-guard: 42 errors, 20 warnings, 0 info, 0 exempted"
    )
    shown = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.counts dd'),"
        " (dd) => [dd.id.replace('count-', ''), Number(dd.textContent)]))"
    )
    assert shown == SEED_SUMMARY
    assert visible(page, "#findings tr[data-severity]") == 62
    assert visible(page, "#findings tr[data-severity='error']") == 42
    assert visible(page, "#findings .resource") == SEED_RESOURCES_WITH_FINDINGS
    headings = page.evaluate(
        "Array.from(document.querySelectorAll('#findings h3'), h => h.textContent)"
    )
    assert "StatefulSet autobot-redis" in headings and "Deployment autobot-chat-agent" in headings
    # One bar label per rule in the chart, and the figures beside it add up.
    assert visible(page, "#chart-rules svg > text:nth-of-type(odd)") == SEED_RULES
    assert (
        page.evaluate(
            "Array.from(document.querySelectorAll('#table-rules tbody tr td:last-child'))"
            ".reduce((sum, td) => sum + Number(td.textContent), 0)"
        )
        == 62
    )
    assert page.evaluate(
        "Array.from(document.querySelectorAll('#table-namespaces tbody tr'),"
        " (tr) => Array.from(tr.cells, (cell) => cell.textContent))"
    ) == [["default", "42", "20", "0", "62"]]
    # A row says where, what and how to fix, and links the rule's documentation.
    row = page.evaluate(
        "Array.from(document.querySelector('#findings tr[data-rule=\"image-tag\"]').cells,"
        " (cell) => cell.textContent)"
    )
    assert re.fullmatch(
        r"tests/fixtures/seed-as-written/03-chat-agent-deployment\.yaml:\d+", row[0]
    )
    assert row[1:4] == ["error", "image-tag", "spec.template.spec.containers[0].image"]
    assert "latest" in row[4] and row[5].startswith("Pin the image")
    href = page.evaluate(
        "document.querySelector('#findings a[href*=\"image-tag\"]').getAttribute('href')"
    )
    assert href == "docs/rules.md#image-tag"
    # Nothing fetched but the file itself, nothing refused, no script error.
    requested = {
        event["params"]["request"]["url"]
        for event in page.events
        if event.get("method") == "Network.requestWillBeSent"
    }
    assert requested == {seed_report.as_uri()}
    assert problems(page) == []


def test_screenshot_is_written(chromium: str, seed_report: Path, tmp_path: Path) -> None:
    out = tmp_path / "seed-report.png"
    screenshot(chromium, seed_report.as_uri(), out, tmp_path / "profile", size="1280,1600")
    print(f"screenshot of the seed's report: {out}")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    # Not a blank page: the pixels vary (text, bars, tables).
    pixels = zlib.decompress(b"".join(_chunks(data, b"IDAT")))
    assert len(set(pixels)) > 50


def _chunks(png: bytes, kind: bytes) -> Iterator[bytes]:
    offset = 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        if png[offset + 4 : offset + 8] == kind:
            yield png[offset + 8 : offset + 8 + length]
        offset += 12 + length


def test_filters_change_what_is_visible(page: Page, seed_report: Path) -> None:
    page.navigate(seed_report.as_uri())
    status = "document.getElementById('shown').textContent"
    assert visible(page, "form#filters") == 1  # the script showed the form
    assert page.evaluate(status) == "Showing 62 of 62 findings."

    page.click("input[name=severity][value=warning]")  # untick warnings
    assert page.evaluate("document.querySelector('input[value=warning]').checked") is False
    assert visible(page, "#findings tr[data-severity]") == 42
    assert visible(page, "#findings tr[data-severity='warning']") == 0
    assert page.evaluate(status) == "Showing 42 of 62 findings."

    page.click("input[name=severity][value=error]")  # untick errors too: nothing left
    assert visible(page, "#findings tr[data-severity]") == 0
    assert visible(page, "#findings .resource") == 0

    page.click("input[name=severity][value=warning]")  # warnings only
    page.click("input[name=severity][value=error]")  # and errors again: everything
    assert visible(page, "#findings tr[data-severity]") == 62

    # The rule list, by keyboard: focus it, arrow down to the first rule (alphabetical).
    page.evaluate("document.getElementById('rule-filter').focus()")
    page.key("ArrowDown")
    assert page.evaluate("document.getElementById('rule-filter').value") == "config-ref"
    assert visible_rules(page) == {"config-ref"}
    assert visible(page, "#findings .resource") == 1  # only the chat agent refers to config
    page.key("ArrowDown")
    assert visible_rules(page) == {"dns-egress"}
    page.click("input[name=severity][value=error]")  # dns-egress is an error: none left
    assert visible(page, "#findings tr[data-severity]") == 0

    page.click("#filters button[type=reset]")
    assert visible(page, "#findings tr[data-severity]") == 62
    assert page.evaluate(status) == "Showing 62 of 62 findings."


def test_hostile_values_show_as_text_and_run_nothing(page: Page, tmp_path: Path) -> None:
    shutil.copy(HOSTILE, tmp_path / HOSTILE_FILE)
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n"
        "  \"<script>alert('dup')</script>\": 1\n  \"<script>alert('dup')</script>\": 2\n",
        encoding="utf-8",
    )
    report = write_report(tmp_path, HOSTILE_FILE, "broken.yaml", cwd=tmp_path)
    page.navigate(report.as_uri())
    page.evaluate("new Promise((done) => setTimeout(done, 300))")  # let any onerror/onload fire
    assert problems(page) == []
    title = page.evaluate("document.title")
    assert title.startswith("autobot-guard: ") and "pwned" not in title
    # Only the report's own script and no element the manifest named.
    assert page.evaluate("document.scripts.length") == 1
    tags = page.evaluate(
        "Array.from(new Set(Array.from(document.querySelectorAll('*'), e => e.localName)))"
    )
    assert not {"img", "iframe", "b"} & set(tags)
    assert page.evaluate("document.querySelectorAll('style').length") == 1
    assert page.evaluate("document.querySelectorAll('svg').length") == 2  # the two charts
    # ... and what it named reads as the text it is.
    heading = page.evaluate("document.querySelector('#findings h3').textContent")
    assert heading == "Deployment <script>alert('name')</script>"
    text = page.evaluate("document.body.innerText")
    for value in (
        '"><img src=x onerror="document.title=\'pwned-namespace\'">',  # namespace
        "<svg onload=alert('label')>",  # label, in a message
        "container '<style>body{display:none}</style>'",
        "evil/<script>alert('image')</script>:latest",
        "</td></tr></table><script>document.title='pwned-reason'</script>",  # exempt reason
        "unknown rule \"<b onmouseover=alert('rule')>x</b>\"",
        "broken.yaml:6",  # the input error, where
        "duplicate key \"<script>alert('dup')</script>\"",
        HOSTILE_FILE + ":",  # a file name is a value too
    ):
        assert value in text, value
    # The namespace is a bar label in the chart, as text.
    labels = page.evaluate(
        "Array.from(document.querySelectorAll('#chart-namespaces svg > text'), t => t.textContent)"
    )
    assert '"><img src=x onerror="document.title=\'pwned-namespace\'">' in labels
    # The exempted finding sits in its table with its reason.
    reason = page.evaluate("document.querySelector('#exempted ~ div td.reason').textContent")
    assert reason == "</td></tr></table><script>document.title='pwned-reason'</script>"
    assert page.evaluate("document.getElementById('count-inputErrors').textContent") == "1"


CONTRAST = """(() => {
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)];
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  const worst = {};
  const note = (key, value) => { worst[key] = Math.min(worst[key] ?? Infinity, value); };
  for (const el of document.querySelectorAll('body *')) {
    if (!el.checkVisibility() || !el.childNodes.length) continue;
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const color = el.closest('svg') ? style.fill : style.color;
    note(el.localName + (el.className && typeof el.className === 'string' ? '.' + el.className : ''),
         ratio(rgb(color), background(el.closest('svg') ? el.closest('figure') : el)));
  }
  const track = rgb(getComputedStyle(document.querySelector('svg .track')).fill);
  for (const bar of document.querySelectorAll('svg rect[class^=bar-]')) {
    note('bar ' + bar.getAttribute('class'), ratio(rgb(getComputedStyle(bar).fill), track));
  }
  return {worst, body: getComputedStyle(document.body).backgroundColor};
})()"""


@pytest.mark.parametrize("scheme", ["light", "dark", "print"])
def test_text_has_sufficient_contrast(page: Page, seed_report: Path, scheme: str) -> None:
    if scheme == "print":
        page.send("Emulation.setEmulatedMedia", media="print")
    else:
        page.send(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": scheme}],
        )
    page.navigate(seed_report.as_uri())
    result = page.evaluate(CONTRAST)
    text = {key: value for key, value in result["worst"].items() if not key.startswith("bar ")}
    bars = {key: value for key, value in result["worst"].items() if key.startswith("bar ")}
    assert text and min(text.values()) >= 4.5, text  # WCAG AA for text
    assert {"h1", "h2", "h3", "td.message", "span.sev sev-error"} <= set(text)
    if scheme == "print":
        assert visible(page, "form#filters") == 0 and visible(page, "nav") == 0
        assert result["body"] == "rgb(255, 255, 255)"
    else:
        assert bars and min(bars.values()) >= 3, bars  # WCAG AA for graphics
        dark = scheme == "dark"
        assert (result["body"] == "rgb(13, 17, 23)") is dark, result["body"]


@pytest.mark.parametrize("media", ["screen", "print"])
def test_a_long_valid_name_wraps_instead_of_hiding_columns(
    page: Page, tmp_path: Path, media: str
) -> None:
    """A DNS subdomain name may be 253 characters with no space: in a message it must wrap,
    or the table grows wider than the page and, printed, the Fix column is cut off."""
    name = ".".join(["a" * 62] * 4)[:253]
    (tmp_path / "long.yaml").write_text(
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
        "  namespace: autobot-system\nspec:\n  replicas: 1\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: web, image: nginx}]}\n",
        encoding="utf-8",
    )
    report = write_report(tmp_path, "long.yaml", cwd=tmp_path)
    page.send("Emulation.setEmulatedMedia", media="print" if media == "print" else "")
    page.send(
        "Emulation.setDeviceMetricsOverride",
        width=1000, height=800, deviceScaleFactor=1, mobile=False,
    )  # fmt: skip
    page.navigate(report.as_uri())
    assert name in page.evaluate("document.body.textContent")
    wider = page.evaluate(
        "Array.from(document.querySelectorAll('.scroll, table, h3'),"
        " (el) => [el.localName, el.scrollWidth, el.clientWidth])"
        ".filter(([, scroll, client]) => scroll > client + 1)"
    )
    assert wider == []
