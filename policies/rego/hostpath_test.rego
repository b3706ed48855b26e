# conftest verify -p policies/rego  (portable test style: see lib/kubernetes_test.rego)
package main.hostpath

import rego.v1

test_host_path_is_denied if {
	results := deny with input.kind as "Deployment"
		with input.metadata as {"name": "autobot-backend", "namespace": "autobot-system"}
		with input.spec as {"template": {"spec": {"volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]}}}
	count(results) == 1
	some result in results
	result.rule == "no-hostpath"
	result.field == ["spec", "template", "spec", "volumes", 0, "hostPath"]
}

test_other_volumes_are_fine if {
	count(deny) == 0 with input.kind as "Deployment"
		with input.metadata as {"name": "autobot-backend", "namespace": "autobot-system"}
		with input.spec as {"template": {"spec": {"volumes": [{"name": "tmp", "emptyDir": {}}]}}}
}

test_log_collector_may_mount_log_directories if {
	count(deny) == 0 with input.kind as "DaemonSet"
		with input.metadata as {"name": "autobot-log-collector", "namespace": "autobot-logging"}
		with input.spec as {"template": {
			"metadata": {"labels": {"component": "log-collector"}},
			"spec": {"volumes": [
				{"name": "containers", "hostPath": {"path": "/var/log/containers"}},
				{"name": "pods", "hostPath": {"path": "/var/log/pods"}},
				{"name": "state", "hostPath": {"path": "/var/lib/autobot-fluentd/buffer"}},
			]},
		}}
}

test_log_collector_may_not_mount_other_paths if {
	count(deny) == 1 with input.kind as "DaemonSet"
		with input.metadata as {"name": "autobot-log-collector", "namespace": "autobot-logging"}
		with input.spec as {"template": {
			"metadata": {"labels": {"component": "log-collector"}},
			"spec": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
		}}
}

test_log_collector_label_elsewhere_is_no_exception if {
	count(deny) == 1 with input.kind as "DaemonSet"
		with input.metadata as {"name": "impostor", "namespace": "autobot-system"}
		with input.spec as {"template": {
			"metadata": {"labels": {"component": "log-collector"}},
			"spec": {"volumes": [{"name": "logs", "hostPath": {"path": "/var/log/pods"}}]},
		}}
}
