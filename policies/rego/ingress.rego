# An Ingress serves HTTPS: it has a `tls` section, and every host of its rules is covered
# by a TLS entry (exactly, or by a wildcard such as *.autobot.example.com).
package main.ingress

import rego.v1

deny contains result if {
	input.kind == "Ingress"
	count(object.get(input, ["spec", "tls"], [])) == 0
	result := {
		"msg": concat("", ["Ingress '", input.metadata.name, "' has no tls section: AutoBot ingresses serve HTTPS only"]),
		"rule": "ingress-tls",
		"field": ["spec"],
	}
}

deny contains result if {
	some [index, host] in uncovered_hosts
	result := {
		"msg": concat("", [
			"Ingress '", input.metadata.name, "' serves host ", host,
			" without TLS: list it in the hosts of a spec.tls entry",
		]),
		"rule": "ingress-tls",
		"field": ["spec", "rules", index, "host"],
	}
}

# [index, host] of every rule host that no TLS entry covers, in an Ingress with a tls section.
uncovered_hosts contains [index, host] if {
	input.kind == "Ingress"
	count(object.get(input, ["spec", "tls"], [])) > 0
	some index, rule in input.spec.rules
	host := rule.host
	is_string(host)
	not covered(host)
}

# Every host the TLS entries list (wildcards such as *.example.com included).
tls_hosts contains host if {
	some entry in input.spec.tls
	some host in object.get(entry, "hosts", [])
}

covered(host) if host in tls_hosts

# *.example.com covers a.example.com, not a.b.example.com nor example.com.
covered(host) if {
	some suffix in wildcard_suffixes
	endswith(host, suffix)
	label := trim_suffix(host, suffix)
	label != ""
	not contains(label, ".")
}

# ".example.com" for a TLS host "*.example.com".
wildcard_suffixes contains trim_prefix(pattern, "*") if {
	some pattern in tls_hosts
	startswith(pattern, "*.")
}
