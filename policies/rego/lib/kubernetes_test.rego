# conftest verify -p policies/rego  (also run in-process by tests/rego/test_policy_units.py)
#
# Portable across OPA and the embedded engine (regopy / rego-cpp): inputs are given field
# by field as literals (`with input.kind as "..."`), never as `with input as {...}` nor
# through other rules; see docs/rego.md, "Portable Rego".
package lib.kubernetes

import rego.v1

test_image_repository_docker_hub_official if {
	image_repository("postgres:16.6-alpine") == "docker.io/library/postgres"
}

test_image_repository_docker_hub_user if {
	image_repository("ollama/ollama:0.5.7") == "docker.io/ollama/ollama"
}

test_image_repository_registry_with_path if {
	image_repository("ghcr.io/mrveiss/autobot-backend:1.4.0") == "ghcr.io/mrveiss/autobot-backend"
}

test_image_repository_registry_port_and_digest if {
	image_repository("localhost:5000/team/app@sha256:0123abcd") == "localhost:5000/team/app"
}

test_image_repository_untagged if {
	image_repository("docker.elastic.co/kibana/kibana") == "docker.elastic.co/kibana/kibana"
}

test_cronjob_containers_have_paths if {
	paths := {path | some [path, _, _] in container_images} with input.kind as "CronJob"
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}}
	paths == {["spec", "jobTemplate", "spec", "template", "spec", "containers", 0]}
}

test_pod_init_containers if {
	paths := {path | some [path, _, _] in container_images} with input.kind as "Pod"
		with input.spec as {"initContainers": [{"name": "init", "image": "x"}], "containers": [{"name": "a", "image": "y"}]}
	paths == {["spec", "containers", 0], ["spec", "initContainers", 0]}
}

test_service_is_not_a_workload if {
	not is_workload with input.kind as "Service"
}

test_host_path_volumes_have_paths if {
	volumes := host_path_volumes with input.kind as "DaemonSet"
		with input.spec as {"template": {"spec": {"volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "logs", "hostPath": {"path": "/var/log"}}]}}}
	volumes == {[["spec", "template", "spec", "volumes", 1], "logs", "/var/log"]}
}

test_deployment_is_a_workload if {
	is_workload with input.kind as "Deployment"
}
