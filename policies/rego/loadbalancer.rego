# A Service of type LoadBalancer gets an internal load balancer only: AutoBot exposes
# nothing to the internet except through the ingress controller. One of the cloud
# providers' internal-load-balancer annotations must carry its "internal" value.
package main.loadbalancer

import rego.v1

# annotation -> the value that makes the load balancer internal (compared in lower case)
internal_annotations := {
	"networking.gke.io/load-balancer-type": "internal",
	"cloud.google.com/load-balancer-type": "internal",
	"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
	"service.beta.kubernetes.io/aws-load-balancer-internal": "true",
	"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
	"service.beta.kubernetes.io/oci-load-balancer-internal": "true",
}

deny contains result if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	not internal
	result := {
		"msg": concat("", [
			"Service '", input.metadata.name, "' is a LoadBalancer without an internal-load-balancer ",
			"annotation (e.g. networking.gke.io/load-balancer-type: Internal)",
		]),
		"rule": "internal-load-balancer",
		"field": ["spec", "type"],
	}
}

# One of the object's annotations is an internal-load-balancer annotation with its value.
internal if {
	some annotation, expected in internal_annotations
	value := input.metadata.annotations[annotation]
	is_string(value)
	lower(value) == expected
}
