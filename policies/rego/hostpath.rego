# No hostPath volumes: a pod that mounts the node's filesystem can read other pods' data
# and escape its sandbox. The one exception is AutoBot's log collector (the DaemonSet in
# autobot-logging whose pods are labelled component=log-collector), and only for the node
# log directories and its own state directory.
package main.hostpath

import rego.v1

import data.lib.kubernetes as k8s

log_collector_paths := {"/var/log/containers", "/var/log/pods", "/var/lib/autobot-fluentd"}

# AutoBot's log collector: its DaemonSet, in its namespace, with its pod label.
log_collector if {
	input.kind == "DaemonSet"
	k8s.namespace == "autobot-logging"
	k8s.pod_labels.component == "log-collector"
}

deny contains result if {
	some [path, name, host_path] in k8s.host_path_volumes
	not log_collector
	result := {
		"msg": concat("", [
			"volume '", name, "' mounts hostPath ", host_path,
			": only the log collector may mount node paths",
		]),
		"rule": "no-hostpath",
		"field": array.concat(path, ["hostPath"]),
	}
}

deny contains result if {
	some [path, name, host_path] in k8s.host_path_volumes
	log_collector
	not allowed_for_log_collector(host_path)
	result := {
		"msg": concat("", [
			"volume '", name, "' mounts hostPath ", host_path,
			": the log collector may mount only ", concat(", ", sort(log_collector_paths)),
		]),
		"rule": "no-hostpath",
		"field": array.concat(path, ["hostPath", "path"]),
	}
}

# One of the log collector's paths, or a path under one of them.
allowed_for_log_collector(path) if path in log_collector_paths

allowed_for_log_collector(path) if {
	some allowed in log_collector_paths
	startswith(path, concat("", [allowed, "/"]))
	not contains(path, "/..")
}
