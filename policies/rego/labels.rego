# Every workload says which team owns it and who to call: `team` and `owner` labels on
# the workload object (Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod, ...).
#
# Rollout: enforcement is ON now that every workload in the reference manifests
# (manifests/) carries these labels. A repository still adopting it can switch it off per
# run with the data document {"autobot": {"enforce": {"ownership_labels": false}}}
# (conftest --data FILE).
package main.labels

import rego.v1

import data.lib.kubernetes as k8s

required_labels := {"team", "owner"}

default enforced := true

enforced := false if data.autobot.enforce.ownership_labels == false

# The required labels an object lacks (or carries with an empty or non-string value).
# (no labels, or labels that are not an object, have no value for any label)
missing_labels(obj) := {label |
	some label in required_labels
	not has_value(object.get(obj, ["metadata", "labels"], {}), label)
}

has_value(labels, label) if {
	value := labels[label]
	is_string(value)
	trim_space(value) != ""
}

deny contains result if {
	k8s.is_workload
	enforced
	missing := missing_labels(input)
	count(missing) > 0
	result := {
		"msg": concat("", [
			input.kind, " '", k8s.object_name, "' has no ", concat(" or ", sort(missing)),
			" label: every workload names its owning team and owner",
		]),
		"rule": "ownership-labels",
		"field": ["metadata", "labels"],
	}
}
