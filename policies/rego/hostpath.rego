# No hostPath volumes: a pod that mounts the node's filesystem can read other pods' data
# and escape its sandbox. The one exception is AutoBot's log collector (the DaemonSet in
# autobot-logging whose pods are labelled component=log-collector), and only for the node
# log directories and its own state directory.
package main.hostpath

import rego.v1

import data.lib.kubernetes as k8s

log_collector_paths := {"/var/log/containers", "/var/log/pods", "/var/lib/autobot-fluentd"}

# Always defined: rego-cpp evaluates an undefined rule again at each use (each volume).
default log_collector := false

log_collector if {
	input.kind == "DaemonSet"
	k8s.namespace == "autobot-logging"
	k8s.pod_labels.component == "log-collector"
}

# Over pod_host_path_volumes, building the field path only for a finding: see
# lib/kubernetes.rego for what the embedded engine pays for.
deny contains result if {
	some [index, name, host_path] in k8s.pod_host_path_volumes
	not log_collector
	result := {
		"msg": concat("", [
			"volume '", name, "' mounts hostPath ", host_path,
			": only the log collector may mount node paths",
		]),
		"rule": "no-hostpath",
		"field": array.concat(k8s.pod_spec_path, ["volumes", index, "hostPath"]),
	}
}

deny contains result if {
	some [index, name, host_path] in k8s.pod_host_path_volumes
	log_collector
	not allowed_for_log_collector(host_path)
	result := {
		"msg": concat("", [
			"volume '", name, "' mounts hostPath ", host_path,
			": the log collector may mount only ", concat(", ", sort(log_collector_paths)),
		]),
		"rule": "no-hostpath",
		"field": array.concat(k8s.pod_spec_path, ["volumes", index, "hostPath", "path"]),
	}
}

allowed_for_log_collector(path) if path in log_collector_paths

allowed_for_log_collector(path) if {
	some allowed in log_collector_paths
	startswith(path, concat("", [allowed, "/"]))
	not contains(path, "/..")
}
