# conftest verify -p policies/rego  (portable test style: see lib/kubernetes_test.rego)
package main.ingress

import rego.v1

test_ingress_without_tls_is_denied if {
	results := deny with input.kind as "Ingress"
		with input.metadata as {"name": "autobot"}
		with input.spec as {"rules": [{"host": "autobot.example.com"}]}
	count(results) == 1
	some result in results
	result.rule == "ingress-tls"
	result.field == ["spec"]
}

test_ingress_with_tls_for_every_host_is_fine if {
	count(deny) == 0 with input.kind as "Ingress"
		with input.metadata as {"name": "autobot"}
		with input.spec as {
			"tls": [{"hosts": ["autobot.example.com"], "secretName": "autobot-tls"}, {"hosts": ["*.apps.example.com"]}],
			"rules": [{"host": "autobot.example.com"}, {"host": "kibana.apps.example.com"}],
		}
}

test_host_outside_tls_is_denied if {
	results := deny with input.kind as "Ingress"
		with input.metadata as {"name": "autobot"}
		with input.spec as {
			"tls": [{"hosts": ["*.example.com"]}],
			"rules": [{"host": "autobot.example.com"}, {"host": "a.b.example.com"}],
		}
	count(results) == 1
	some result in results
	result.field == ["spec", "rules", 1, "host"]
}

test_other_kinds_are_ignored if {
	count(deny) == 0 with input.kind as "Service" with input.metadata as {"name": "x"}
}
