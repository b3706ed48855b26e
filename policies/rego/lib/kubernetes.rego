# Helpers the AutoBot policies share: where a workload keeps its pod template, its
# containers and volumes with their field paths, and image references.
# A library: it defines no deny/warn rule, so nothing fires from this package.
package lib.kubernetes

import rego.v1

# Where each workload kind keeps its pod template (metadata + spec).
pod_template_path := ["spec", "template"] if {
	input.kind in templated_kinds
} else := ["spec", "jobTemplate", "spec", "template"] if {
	input.kind == "CronJob"
} else := [] if {
	input.kind == "Pod"
}

is_workload if pod_template_path

object_name := object.get(input, ["metadata", "name"], object.get(input, ["metadata", "generateName"], "?"))

namespace := object.get(input, ["metadata", "namespace"], "default")

pod_spec_path := array.concat(pod_template_path, ["spec"])

pod_labels := object.get(input, array.concat(pod_template_path, ["metadata", "labels"]), {})

# The helpers below yield small tuples rather than whole containers or pod specs: the
# embedded engine (rego-cpp) pays for every large value a rule returns.

# [field path, name, image] of every container, init container and ephemeral container.
container_images contains [path, name, c.image] if {
	input.kind in templated_kinds
	some key in container_keys
	some index, c in input.spec.template.spec[key]
	path := array.concat(pod_spec_path, [key, index])
	name := object.get(c, "name", "")
}

container_images contains [path, name, c.image] if {
	input.kind == "CronJob"
	some key in container_keys
	some index, c in input.spec.jobTemplate.spec.template.spec[key]
	path := array.concat(pod_spec_path, [key, index])
	name := object.get(c, "name", "")
}

container_images contains [path, name, c.image] if {
	input.kind == "Pod"
	some key in container_keys
	some index, c in input.spec[key]
	path := array.concat(pod_spec_path, [key, index])
	name := object.get(c, "name", "")
}

# [field path, name, host path] of every hostPath volume ("" when it names no path).
host_path_volumes contains [path, name, host_path] if {
	input.kind in templated_kinds
	some index, v in input.spec.template.spec.volumes
	path := array.concat(pod_spec_path, ["volumes", index])
	name := object.get(v, "name", "")
	host_path := object.get(v.hostPath, "path", "")
}

host_path_volumes contains [path, name, host_path] if {
	input.kind == "CronJob"
	some index, v in input.spec.jobTemplate.spec.template.spec.volumes
	path := array.concat(pod_spec_path, ["volumes", index])
	name := object.get(v, "name", "")
	host_path := object.get(v.hostPath, "path", "")
}

host_path_volumes contains [path, name, host_path] if {
	input.kind == "Pod"
	some index, v in input.spec.volumes
	path := array.concat(pod_spec_path, ["volumes", index])
	name := object.get(v, "name", "")
	host_path := object.get(v.hostPath, "path", "")
}

templated_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

container_keys := ["containers", "initContainers", "ephemeralContainers"]

# "ghcr.io/mrveiss/autobot-backend:1.4.0" -> "ghcr.io/mrveiss/autobot-backend";
# "postgres:16" -> "docker.io/library/postgres" (Docker Hub names as the runtime resolves them).
image_repository(image) := canonical_repository(trim_tag(split(image, "@")[0]))

trim_tag(reference) := stripped if {
	parts := split(reference, "/")
	last := parts[count(parts) - 1]
	tagless := split(last, ":")[0]
	stripped := concat("/", array.concat(array.slice(parts, 0, count(parts) - 1), [tagless]))
}

canonical_repository(repository) := concat("/", ["docker.io/library", repository]) if {
	not contains(repository, "/")
}

canonical_repository(repository) := repository if {
	contains(repository, "/")
	is_registry_host(split(repository, "/")[0])
}

canonical_repository(repository) := concat("/", ["docker.io", repository]) if {
	contains(repository, "/")
	not is_registry_host(split(repository, "/")[0])
}

# A first path component names a registry when it has a dot or a port, or is localhost.
is_registry_host(part) if contains(part, ".")

is_registry_host(part) if contains(part, ":")

is_registry_host(part) if part == "localhost"
