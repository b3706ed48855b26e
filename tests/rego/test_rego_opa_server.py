"""Rego in a real OPA server (rego/opa_server.py), as the webhook's sidecar runs it: the
same findings as the real conftest, a restarted OPA gets the policies again, an
evaluation error is the error of its object, OPA down is a clear error."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autobot_guard.errors import UsageError
from autobot_guard.findings import Finding
from autobot_guard.loader import load_paths
from autobot_guard.rego.opa_server import BATCH_ID, ID_PREFIX, OpaServer, OpaUnavailable
from autobot_guard.rego.policies import load_policy_set
from autobot_guard.rego.results import ERROR, to_finding
from tests.opa_server import Opa, free_port, running_opa
from tests.rego.helpers import CASES, CONVENTIONS, SHIPPED, check, rego_findings
from tests.rego.test_rego_conventions import MANIFEST
from tests.tools import tool

pytestmark = pytest.mark.opa


@pytest.fixture(scope="module")
def opa() -> Iterator[Opa]:
    with running_opa() as running:
        yield running


def key(finding: Finding) -> tuple[Any, ...]:
    return (
        finding.rule,
        finding.severity.value,
        finding.message,
        finding.file,
        finding.line,
        finding.path_text,
        finding.resource.display(),
        finding.exempt_reason,
    )


def opa_findings(client: OpaServer, path: Path) -> list[tuple[Any, ...]]:
    resources = load_paths([str(path)]).resources
    hits = client.evaluate([resource.data for resource in resources])
    return sorted(key(to_finding(resources[hit.index], hit)) for hit in hits)


def conftest_findings(path: Path, policies: Path = SHIPPED) -> list[tuple[Any, ...]]:
    tool("conftest")
    report = check([path], rego="conftest", policies=policies)
    return sorted(key(f) for f in [*rego_findings(report), *rego_findings(report, True)])


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yaml")), ids=lambda p: p.name)
def test_the_shipped_policies_find_what_the_real_conftest_finds(opa: Opa, case: Path) -> None:
    client = OpaServer(load_policy_set(SHIPPED), opa.url)
    found = opa_findings(client, case)
    assert found == conftest_findings(case)
    if case.name.endswith("-fail.yaml"):
        assert found, "a failing case has findings"


def test_combined_policies_and_exceptions_as_the_real_conftest(opa: Opa, tmp_path: Path) -> None:
    manifest = tmp_path / "conventions.yaml"
    manifest.write_text(MANIFEST)
    client = OpaServer(load_policy_set(CONVENTIONS), opa.url)
    found = opa_findings(client, manifest)
    assert found == conftest_findings(manifest, CONVENTIONS)
    assert any(rule == "unique-name" for rule, *_ in found), "the combined policy ran"


def test_the_webhook_owns_the_policies_in_opa(opa: Opa) -> None:
    policies = load_policy_set(SHIPPED)
    OpaServer(policies, opa.url).push()
    ours = {ID_PREFIX + module.name for module in policies.modules} | {BATCH_ID}
    assert ours <= set(opa.policy_ids())
    # A module of ours the policy set no longer has is deleted at the next push.
    stale = ID_PREFIX + "gone.rego"
    connection = http.client.HTTPConnection("127.0.0.1", opa.port, timeout=5)
    connection.request("PUT", f"/v1/policies/{stale}", b"package gone\n")
    assert connection.getresponse().status == 200
    OpaServer(policies, opa.url).push()
    assert stale not in opa.policy_ids()


def test_a_restarted_opa_gets_the_policies_again(tmp_path: Path) -> None:
    case = CASES / "images-fail.yaml"
    with running_opa() as opa:
        client = OpaServer(load_policy_set(SHIPPED), opa.url)
        before = opa_findings(client, case)
        assert before and client.pushes == 1
        opa.restart()  # the new OPA has no modules: "undefined" must not read as clean
        assert opa.policy_ids() == []
        assert opa_findings(client, case) == before
        assert client.pushes == 2 and client.pushed
        opa.restart()
        resources = load_paths([str(case)]).resources
        hits = asyncio.run(client.evaluate_async([r.data for r in resources]))
        assert sorted(key(to_finding(resources[h.index], h)) for h in hits) == before
        assert client.pushes == 3
        opa.restart()
        client.check()  # what the webhook's keeper runs: pushes when OPA lost them
        assert client.pushes == 4 and BATCH_ID in opa.policy_ids()


CONFLICT = """\
package main.conflict

import rego.v1

# Two values for one complete rule when the object is named "twice": OPA's
# eval_conflict_error, for that object only.
tier := "a" if input.metadata.name == "twice"

tier := "b" if input.metadata.name == "twice"

tier := "c" if input.metadata.name != "twice"

deny contains result if {
	tier == "a"
	result := {"msg": "never", "rule": "conflict"}
}

deny contains result if {
	input.kind == "ConfigMap"
	result := {"msg": "a ConfigMap", "rule": "configmap"}
}
"""


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def test_an_evaluation_error_is_the_error_of_its_object(opa: Opa, tmp_path: Path) -> None:
    (tmp_path / "conflict.rego").write_text(CONFLICT)
    client = OpaServer(load_policy_set(tmp_path), opa.url)
    documents = [configmap("once"), configmap("twice"), configmap("other")]
    for hits in (
        client.evaluate(documents),
        asyncio.run(client.evaluate_async(documents)),
    ):
        errors = [hit for hit in hits if hit.kind == ERROR]
        assert [hit.index for hit in errors] == [1]
        assert "eval_conflict_error" in errors[0].value["error"]
        assert "conflict.rego" in errors[0].value["error"]
        assert ID_PREFIX not in errors[0].value["error"]
        fine = sorted((hit.index, hit.value["rule"]) for hit in hits if hit.kind != ERROR)
        assert fine == [(0, "configmap"), (2, "configmap")]


def test_concurrent_reviews_get_their_own_hits(opa: Opa, tmp_path: Path) -> None:
    """evaluate_async sends what arrives while a query is out together: each caller
    still gets the hits of its own document, at index 0, an error only where it is."""
    (tmp_path / "conflict.rego").write_text(CONFLICT)
    client = OpaServer(load_policy_set(tmp_path), opa.url)
    names = ["a", "twice", "b", "c", "twice", "d"] * 5

    async def all_of() -> list[list[Any]]:
        return await asyncio.gather(*(client.evaluate_async([configmap(n)]) for n in names))

    for name, hits in zip(names, asyncio.run(all_of()), strict=True):
        kinds = sorted(hit.kind for hit in hits)
        assert all(hit.index == 0 for hit in hits)
        assert kinds == (["error"] if name == "twice" else ["failure"]), (name, hits)


def test_a_policy_opa_does_not_compile_is_one_line_naming_file_and_line(
    opa: Opa, tmp_path: Path
) -> None:
    (tmp_path / "broken.rego").write_text(
        "package main.broken\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := concat()\n}\n"
    )
    client = OpaServer(load_policy_set(tmp_path), opa.url)
    with pytest.raises(UsageError) as caught:
        client.push()
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'broken.rego'}:6: OPA does not compile"), message
    assert "\n" not in message and ID_PREFIX not in message
    # Sticky: reviews do not push again and again; the keeper's check() does.
    with pytest.raises(UsageError):
        client.evaluate([configmap("x")])
    assert client.pushes == 1


def test_modules_that_call_each_other_are_pushed_in_any_order(opa: Opa, tmp_path: Path) -> None:
    """OPA compiles every PUT with what it has: a policy before the library it calls."""
    (tmp_path / "a_policy.rego").write_text(
        "package main.uses\n\nimport rego.v1\n\nimport data.zlib.helpers\n\n"
        'deny contains "loud" if helpers.loud(input)\n'
    )
    (tmp_path / "zlib.rego").write_text(
        'package zlib.helpers\n\nimport rego.v1\n\nloud(x) if x.kind == "ConfigMap"\n'
    )
    client = OpaServer(load_policy_set(tmp_path), opa.url)
    hits = client.evaluate([configmap("x")])
    assert [hit.value for hit in hits] == ["loud"]


def test_opa_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = OpaServer(load_policy_set(SHIPPED), url, timeout=1)
    with pytest.raises(OpaUnavailable, match=r"^OPA at .* is not reachable: connection refused$"):
        client.evaluate([configmap("x")])
    with pytest.raises(OpaUnavailable, match="connection refused"):
        asyncio.run(client.evaluate_async([configmap("x")]))
    assert not client.pushed


def test_an_opa_that_does_not_answer_times_out() -> None:
    import socket

    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        client = OpaServer(load_policy_set(SHIPPED), url, timeout=0.3)
        with pytest.raises(OpaUnavailable, match=r"no answer within 0\.3 s"):
            client.evaluate([configmap("x")])


@pytest.mark.parametrize("url", ["https://127.0.0.1:8181", "127.0.0.1:8181", "http://"])
def test_a_bad_opa_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="http://HOST:PORT"):
        OpaServer(load_policy_set(SHIPPED), url)
