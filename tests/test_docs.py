"""The documentation says only what the code does.

docs/rules.md is generated from the registry and must be current; every module path,
`autobot-guard` command and option, repository path and relative link the pages name
must exist; the reference tables list every option, setting and format the code has.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import click
import pytest

from autobot_guard.cli import main as cli_group
from autobot_guard.config import AdmissionSettings
from autobot_guard.reporters import FORMATS
from autobot_guard.rules_doc import REGENERATE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "bench" / "README.md"])
PAGES += sorted(DOCS.glob("*.md"))

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_MODULE_PATH = re.compile(r"autobot_guard(?:/[A-Za-z0-9_]+)*(?:\.py|/)?")
_DOTTED = re.compile(r"(?<![\w.-])autobot_guard(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_COMMAND = re.compile(r"(?<![\w/-])autobot-guard ([a-z][a-z-]*)((?: [^|#;>&]*)?)")
_LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")
_REPO_PATH = re.compile(
    r"(?:scripts|bench|policies|manifests|docs|tests|docker|\.github|\.ci)/[A-Za-z0-9_./-]*"
    r"|action\.yml|Dockerfile|\.pre-commit-hooks\.yaml|pyproject\.toml|CONTRIBUTING\.md"
)


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


PAGE = pytest.mark.parametrize("page", PAGES, ids=page_id)


def code_of(text: str) -> list[str]:
    """Fenced blocks (line by line) and inline code spans: where commands are written."""
    out: list[str] = []
    for block in _FENCE.findall(text):
        out += block.splitlines()
    prose = _FENCE.sub("", text)
    return out + _INLINE.findall(prose)


def test_rules_md_is_generated_from_the_registry_and_current() -> None:
    # As the user regenerates it: the command the page itself names.
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "rules", "--format", "markdown"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    committed = (DOCS / "rules.md").read_text(encoding="utf-8")
    assert committed == result.stdout, f"docs/rules.md is stale: run `{REGENERATE}`"


def test_rules_md_documents_every_rule_with_its_examples() -> None:
    from autobot_guard.rules import ALL_RULES

    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    headings = re.findall(r"^### (\S+)$", text, re.M)
    assert headings[: len(ALL_RULES)] == [rule.id for rule in ALL_RULES]
    for rule in ALL_RULES:
        assert rule.failing_example.rstrip("\n") in text, rule.id
    assert {"approved-registry", "no-hostpath"} <= set(headings[len(ALL_RULES) :])


@PAGE
def test_every_module_named_exists(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = [m for m in _MODULE_PATH.findall(text) if not (ROOT / m).exists()]
    for dotted in _DOTTED.findall(text):
        start = text.index(dotted)
        if text[max(0, start - 9) : start].endswith("package `"):
            continue  # a Rego package of the same name (autobot_guard.batch)
        if not _resolves(dotted):
            missing.append(dotted)
    assert not missing, f"{page_id(page)} names what does not exist: {missing}"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


@cache
def options_of(command: str) -> frozenset[str]:
    found = cli_group.commands[command]
    names = {"--help", "-h"}
    for param in found.params:
        if isinstance(param, click.Option) and not param.hidden:
            names.update(param.opts, param.secondary_opts)
    return frozenset(names)


@PAGE
def test_every_command_and_option_named_exists(page: Path) -> None:
    wrong: list[str] = []
    for code in code_of(page.read_text(encoding="utf-8")):
        for command, rest in _COMMAND.findall(code):
            if command not in cli_group.commands:
                wrong.append(f"autobot-guard {command}")
                continue
            for option in re.findall(r"(?<![\w-])--?[a-z][a-z-]*", rest):
                if option not in options_of(command):
                    wrong.append(f"autobot-guard {command} {option}")
    assert not wrong, f"{page_id(page)} names commands or options that do not exist: {wrong}"


@PAGE
def test_every_repository_path_named_exists(page: Path) -> None:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    spans = [s for s in _INLINE.findall(text) if _REPO_PATH.fullmatch(s)]
    missing = [s for s in spans if not (ROOT / s).exists()]
    assert not missing, f"{page_id(page)} names files that do not exist: {missing}"


def slugs(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out: set[str] = set()
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in out:
            n += 1
            candidate = f"{slug}-{n}"
        out.add(candidate)
    return out


@PAGE
def test_every_relative_link_resolves(page: Path) -> None:
    broken: list[str] = []
    for target in _LINK.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        known = linked.exists() and (
            not anchor or (linked.suffix == ".md" and anchor in slugs(linked))
        )
        if not known:
            broken.append(target)
    assert not broken, f"{page_id(page)} has broken links: {broken}"


def test_the_readme_links_every_page_of_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Documentation") :]
    linked = {target for target in _LINK.findall(section)}
    pages = {f"docs/{p.name}" for p in DOCS.glob("*.md")} | {"bench/README.md", "CONTRIBUTING.md"}
    assert pages <= linked, f"add to README's Documentation list: {sorted(pages - linked)}"


def test_the_readme_quick_start_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[
        readme.index("## Quick start") : readme.index("\n## ", readme.index("## Quick start"))
    ]
    assert _FENCE.findall(section) == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/autobot-guard check\n",
        "scripts/test\n",
    ]
    assert (ROOT / "scripts" / "test").stat().st_mode & 0o111
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_cli_page_lists_every_option_of_check() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    table = text[text.index("## Options of `check`") : text.index("## Exit status")]
    options = [o for o in options_of("check") if o.startswith("--") and o != "--help"]
    missing = [o for o in options if o not in table]
    assert not missing, f"docs/cli.md does not document: {missing}"
    for command in cli_group.commands:
        assert f"autobot-guard {command}" in text, command


def test_the_webhook_page_lists_every_serve_option_and_admission_setting() -> None:
    text = (DOCS / "webhook.md").read_text(encoding="utf-8")
    options = [o for o in options_of("serve") if o.startswith("--") and o != "--help"]
    assert not [o for o in options if o not in text], "docs/webhook.md: undocumented options"
    table = text[text.index("## The policy pack at admission") :]
    missing = [key for key in AdmissionSettings.model_fields if f"| `{key}` |" not in table]
    assert not missing, f"docs/webhook.md: admission settings not in the table: {missing}"


def test_the_webhook_page_names_the_cross_resource_rules_and_watched_kinds() -> None:
    from autobot_guard.rules import cross_resource_ids
    from autobot_guard.webhook.inventory_watch import WATCHED

    text = (DOCS / "webhook.md").read_text(encoding="utf-8")
    section = text[text.index("## Cross-resource rules") : text.index("## The policy pack")]
    named = re.search(r"Cross-resource rules \(([^)]*)\)", section)
    assert named and set(re.findall(r"`([a-z-]+)`", named[1])) == set(cross_resource_ids())
    for watched in WATCHED:
        assert watched.kind in section, f"docs/webhook.md: is {watched.kind} not watched?"


def test_the_output_formats_page_lists_every_format() -> None:
    text = (DOCS / "output-formats.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z]+)`", text, re.M)
    assert tuple(listed) == FORMATS
