# conftest verify -p policies/rego  (portable test style: see lib/kubernetes_test.rego)
package main.images

import rego.v1

test_autobot_image_is_approved if {
	count(deny) == 0 with input.kind as "Deployment"
		with input.metadata as {"name": "autobot-backend"}
		with input.spec as {"template": {"spec": {"containers": [{"name": "backend", "image": "ghcr.io/mrveiss/autobot-backend:1.4.0"}]}}}
}

test_upstream_images_of_the_reference_stack_are_approved if {
	count(deny) == 0 with input.kind as "StatefulSet"
		with input.metadata as {"name": "autobot-data"}
		with input.spec as {"template": {"spec": {
			"initContainers": [{"name": "init", "image": "docker.io/library/postgres:16.6-alpine"}],
			"containers": [
				{"name": "postgres", "image": "postgres:16.6-alpine"},
				{"name": "redis", "image": "redis/redis-stack-server:7.4.0-v3"},
				{"name": "chroma", "image": "chromadb/chroma:0.6.3"},
				{"name": "ollama", "image": "ollama/ollama:0.5.7"},
				{"name": "es", "image": "docker.elastic.co/elasticsearch/elasticsearch:8.15.3"},
				{"name": "kibana", "image": "docker.elastic.co/kibana/kibana:8.15.3"},
				{"name": "fluentd", "image": "fluent/fluentd-kubernetes-daemonset:v1.17-debian-elasticsearch8-1"},
			],
		}}}
}

test_unapproved_registry_is_denied if {
	results := deny with input.kind as "Deployment"
		with input.metadata as {"name": "autobot-backend"}
		with input.spec as {"template": {"spec": {"containers": [{"name": "backend", "image": "docker.io/mrveiss/autobot-backend:1.4.0"}]}}}
	count(results) == 1
	some result in results
	result.rule == "approved-registry"
	result.field == ["spec", "template", "spec", "containers", 0, "image"]
}

test_look_alike_path_is_denied if {
	count(deny) == 1 with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "image": "evil.example/ghcr.io/mrveiss/autobot-backend:1.4.0"}]}
}

test_unlisted_upstream_image_is_denied if {
	count(deny) == 1 with input.kind as "CronJob"
		with input.metadata as {"name": "backup"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "busybox:1.36"}]}}}}}
}

test_non_workloads_are_ignored if {
	count(deny) == 0 with input.kind as "ConfigMap"
		with input.metadata as {"name": "c"}
		with input.data as {"image": "evil.example/x:1"}
}
