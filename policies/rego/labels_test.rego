# conftest verify -p policies/rego  (portable test style: see lib/kubernetes_test.rego)
package main.labels

import rego.v1

test_missing_labels_none if {
	missing_labels({"metadata": {"labels": {"team": "platform", "owner": "alice"}}}) == set()
}

test_missing_labels_both if {
	missing_labels({"metadata": {"name": "x"}}) == {"team", "owner"}
}

test_missing_labels_empty_value if {
	missing_labels({"metadata": {"labels": {"team": " ", "owner": "alice"}}}) == {"team"}
}

test_enforced_by_default_denies_a_workload_without_labels if {
	results := deny with input.kind as "Deployment"
		with input.metadata as {"name": "autobot-backend", "namespace": "autobot-system"}
	count(results) == 1
	some result in results
	result.rule == "ownership-labels"
	result.field == ["metadata", "labels"]
	result.msg == "Deployment 'autobot-backend' has no owner or team label: every workload names its owning team and owner"
}

test_enforced_by_default_denies_a_missing_owner if {
	results := deny with input.kind as "Deployment"
		with input.metadata as {"name": "autobot-backend", "labels": {"team": "platform"}}
	count(results) == 1
	some result in results
	result.rule == "ownership-labels"
	result.msg == "Deployment 'autobot-backend' has no owner label: every workload names its owning team and owner"
}

test_enforced_by_default_denies_an_empty_team if {
	results := deny with input.kind as "Job"
		with input.metadata as {"name": "autobot-migrate", "labels": {"team": "", "owner": "bob"}}
	count(results) == 1
	some result in results
	result.rule == "ownership-labels"
	result.msg == "Job 'autobot-migrate' has no team label: every workload names its owning team and owner"
}

test_enforced_by_default_accepts_a_labelled_workload if {
	count(deny) == 0 with input.kind as "StatefulSet"
		with input.metadata as {"name": "autobot-redis", "labels": {"team": "platform", "owner": "alice"}}
}

test_enforced_by_default_ignores_non_workloads if {
	count(deny) == 0 with input.kind as "Service"
		with input.metadata as {"name": "autobot-backend"}
}

test_data_can_switch_it_off if {
	count(deny) == 0 with data.autobot.enforce.ownership_labels as false
		with input.kind as "CronJob"
		with input.metadata as {"name": "autobot-es-snapshot", "labels": {"owner": "alice"}}
}

test_explicit_opt_in_still_enforces if {
	results := deny with data.autobot.enforce.ownership_labels as true
		with input.kind as "CronJob"
		with input.metadata as {"name": "autobot-es-snapshot", "labels": {"owner": "alice"}}
	count(results) == 1
	some result in results
	result.rule == "ownership-labels"
}
