# Test fixture: a cross-document policy (package under main.combine: conftest --combine).
package main.combine.names

import rego.v1

warn contains result if {
	some doc in input
	some other in input
	other.path != doc.path
	other.contents.metadata.name == doc.contents.metadata.name
	result := {
		"msg": concat("", ["name ", doc.contents.metadata.name, " is used by several objects"]),
		"rule": "unique-name",
		"field": ["metadata", "name"],
		"document": doc.path,
	}
}
