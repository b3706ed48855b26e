# conftest verify -p policies/rego  (portable test style: see lib/kubernetes_test.rego)
package main.loadbalancer

import rego.v1

test_public_load_balancer_is_denied if {
	results := deny with input.kind as "Service"
		with input.metadata as {"name": "autobot-frontend"}
		with input.spec as {"type": "LoadBalancer"}
	count(results) == 1
	some result in results
	result.rule == "internal-load-balancer"
}

test_internal_load_balancer_is_fine if {
	count(deny) == 0 with input.kind as "Service"
		with input.metadata as {"name": "autobot-frontend", "annotations": {"networking.gke.io/load-balancer-type": "Internal"}}
		with input.spec as {"type": "LoadBalancer"}
}

test_aws_internal_scheme_is_fine if {
	count(deny) == 0 with input.kind as "Service"
		with input.metadata as {"name": "autobot-frontend", "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}}
		with input.spec as {"type": "LoadBalancer"}
}

test_annotation_with_external_value_is_denied if {
	count(deny) == 1 with input.kind as "Service"
		with input.metadata as {"name": "autobot-frontend", "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}}
		with input.spec as {"type": "LoadBalancer"}
}

test_cluster_ip_is_fine if {
	count(deny) == 0 with input.kind as "Service"
		with input.metadata as {"name": "autobot-backend"}
		with input.spec as {"type": "ClusterIP"}
}
