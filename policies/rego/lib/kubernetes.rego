# Helpers the AutoBot policies share: where a workload keeps its pod template, its
# containers and volumes with their field paths, and image references.
# A library: it defines no deny/warn rule, so nothing fires from this package.
package lib.kubernetes

import rego.v1

# The kinds that keep their pod template in spec.template.
templated_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# The keys of a pod spec that list containers.
container_keys := {"containers", "initContainers", "ephemeralContainers"}

# Where the object keeps its pod template (metadata + spec): undefined for other kinds.
pod_template_path := ["spec", "template"] if {
	input.kind in templated_kinds
} else := ["spec", "jobTemplate", "spec", "template"] if {
	input.kind == "CronJob"
} else := [] if {
	input.kind == "Pod"
}

# The kinds that run pods: they have a pod template, or are a Pod.
workload_kinds := templated_kinds | {"CronJob", "Pod"}

is_workload if input.kind in workload_kinds

pod_spec_path := array.concat(pod_template_path, ["spec"])

# The pod spec of a workload.
pod_spec := object.get(input, pod_spec_path, {})

pod_labels := object.get(input, array.concat(pod_template_path, ["metadata", "labels"]), {})

object_name := object.get(input, ["metadata", "name"], object.get(input, ["metadata", "generateName"], "?"))

namespace := object.get(input, ["metadata", "namespace"], "default")

# [field path, name, image] of every container, init container and ephemeral container
# ("" when it has no name).
container_images contains [array.concat(pod_spec_path, [key, index]), name, container.image] if {
	some key in container_keys
	some index, container in pod_spec[key]
	name := object.get(container, "name", "")
}

# [field path, name, host path] of every hostPath volume ("" when it names no path).
host_path_volumes contains [array.concat(pod_spec_path, ["volumes", index]), name, path] if {
	some index, volume in pod_spec.volumes
	name := object.get(volume, "name", "")
	path := object.get(volume.hostPath, "path", "")
}

# "ghcr.io/mrveiss/autobot-backend:1.4.0" -> "ghcr.io/mrveiss/autobot-backend";
# "postgres:16" -> "docker.io/library/postgres" (Docker Hub names as the runtime resolves them).
image_repository(image) := canonical_repository(trim_tag(split(image, "@")[0]))

# Without the tag: from the first ":" of the last path component on, if there is one.
trim_tag(reference) := trim_suffix(reference, tag) if {
	parts := split(reference, "/")
	last := parts[count(parts) - 1]
	tag := trim_prefix(last, split(last, ":")[0])
}

# "postgres" -> "docker.io/library/postgres", "ollama/ollama" -> "docker.io/ollama/ollama";
# a repository that starts with a registry host is already canonical.
canonical_repository(repository) := concat("/", ["docker.io/library", repository]) if {
	not contains(repository, "/")
} else := repository if {
	is_registry_host(split(repository, "/")[0])
} else := concat("/", ["docker.io", repository])

# A first path component names a registry when it has a dot or a port, or is localhost.
is_registry_host(part) if contains(part, ".")

is_registry_host(part) if contains(part, ":")

is_registry_host(part) if part == "localhost"
