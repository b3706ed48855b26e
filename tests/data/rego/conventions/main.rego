# Test fixture: every convention the Rego step supports (tests/rego/).
package main

import rego.v1

# A plain message: rule id conftest:main, severity error, line of the document.
deny contains msg if {
	input.kind == "ConfigMap"
	input.metadata.labels.verdict == "deny"
	msg := concat("", ["ConfigMap ", input.metadata.name, " is denied"])
}

# An object: rule id, field (as a list) and fix.
violation contains result if {
	input.kind == "Deployment"
	input.spec.replicas == 3
	result := {
		"msg": "three replicas are not allowed here",
		"rule": "no-three-replicas",
		"field": ["spec", "replicas"],
		"fix": "Run 2 or 4 replicas.",
	}
}

# A plain warning.
warn contains "ConfigMap has no description annotation" if {
	input.kind == "ConfigMap"
	not input.metadata.annotations.description
}

# A named warning with severity info and a dotted field.
warn_info contains {"msg": "the key is informational", "severity": "info", "field": "data.key"} if {
	input.kind == "ConfigMap"
	input.data.key
}

# A named failure that `exception` switches off for objects labelled skip=yes.
deny_skippable contains {"msg": "skippable failure", "rule": "skippable"} if {
	input.kind == "ConfigMap"
	input.metadata.labels.skippable == "true"
}

exception contains ["skippable"] if input.metadata.labels.skip == "yes"

# An empty message is a success, not a finding.
deny contains "" if input.kind == "Secret"

# A location given by the policy itself (conftest's _loc) in the document's own file.
deny contains {"msg": "located", "rule": "located", "_loc": {"file": "", "line": 2}} if {
	input.metadata.labels.verdict == "located"
}
