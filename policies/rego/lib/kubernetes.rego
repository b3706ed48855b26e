# Helpers the AutoBot policies share: where a workload keeps its pod template, its
# containers and volumes with their field paths, and image references.
# A library: it defines no deny/warn rule, so nothing fires from this package.
#
# Written for the embedded engine (rego-cpp), which runs every policy on every object
# (README "Rego policies"). Each step (a reference step, a builtin, a literal) costs it
# microseconds, and some patterns cost much more, so these rules avoid them:
# - a value a builtin returns is a copy (object.get(input, path) of a pod spec copies the
#   spec); a reference into input is not, nor a rule whose value is one (`pod_spec`);
# - iterating a reference into input (`some c in input.spec...`) is several times slower
#   than iterating a local bound to it first (`containers := ...; some c in containers`);
# - a rule's value is computed once per query, but an undefined rule is evaluated again
#   at every use: the rules the others test (`pod_template_kind`, `pod_spec`) are always
#   defined;
# - literals are built again at every query, sets dearer than arrays: kinds are tested
#   against arrays, and field paths are built only for what a policy reports;
# - in a body that iterates, calls that depend on no local of the body may run before
#   the checks written above them.
package lib.kubernetes

import rego.v1

# How a kind keeps its pod template: "template" (spec.template), "CronJob"
# (spec.jobTemplate.spec.template), "Pod" (the object is the pod), "" (it has none).
default pod_template_kind := ""

pod_template_kind := "template" if {
	input.kind in templated_kind_list
} else := "CronJob" if {
	input.kind == "CronJob"
} else := "Pod" if {
	input.kind == "Pod"
}

# Where each workload kind keeps its pod template (metadata + spec).
pod_template_path := ["spec", "template"] if {
	pod_template_kind == "template"
} else := ["spec", "jobTemplate", "spec", "template"] if {
	pod_template_kind == "CronJob"
} else := [] if {
	pod_template_kind == "Pod"
}

is_workload if pod_template_kind != ""

object_name := object.get(input, ["metadata", "name"], object.get(input, ["metadata", "generateName"], "?"))

namespace := object.get(input, ["metadata", "namespace"], "default")

pod_spec_path := array.concat(pod_template_path, ["spec"])

pod_labels := object.get(input, array.concat(pod_template_path, ["metadata", "labels"]), {})

# The pod spec of a workload (by reference: cheap), {} for other kinds.
default pod_spec := {}

pod_spec := input.spec.template.spec if {
	pod_template_kind == "template"
} else := input.spec.jobTemplate.spec.template.spec if {
	pod_template_kind == "CronJob"
} else := input.spec if {
	pod_template_kind == "Pod"
}

# [field path, name, image] of every container, init container and ephemeral container.
container_images contains [array.concat(pod_spec_path, [key, index]), name, image] if {
	some [key, index, name, image] in pod_container_images
}

# [field path, name, host path] of every hostPath volume ("" when it names no path).
host_path_volumes contains [array.concat(pod_spec_path, ["volumes", index]), name, host_path] if {
	some [index, name, host_path] in pod_host_path_volumes
}

# The same with the position in the pod spec instead of the field path, which the
# policies build only for what they report (array.concat(pod_spec_path, [key, index, ...])):
# [key, index, name, image], key "containers", "initContainers" or "ephemeralContainers";
# [index, name, host path] in "volumes".
# One rule per key rather than `some key in container_keys`: rego-cpp would iterate the
# keys before it looks at pod_spec.
pod_container_images contains ["containers", index, object.get(c, "name", ""), c.image] if {
	containers := pod_spec.containers
	some index, c in containers
}

pod_container_images contains ["initContainers", index, object.get(c, "name", ""), c.image] if {
	containers := pod_spec.initContainers
	some index, c in containers
}

pod_container_images contains ["ephemeralContainers", index, object.get(c, "name", ""), c.image] if {
	containers := pod_spec.ephemeralContainers
	some index, c in containers
}

pod_host_path_volumes contains [index, object.get(v, "name", ""), object.get(host_path, "path", "")] if {
	volumes := pod_spec.volumes
	some index, v in volumes
	host_path := v.hostPath
}

# The kinds that keep their pod template in spec.template: an array (see above), and a set.
templated_kind_list := ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"]

templated_kinds := {kind | some kind in templated_kind_list}

container_keys := ["containers", "initContainers", "ephemeralContainers"]

# "ghcr.io/mrveiss/autobot-backend:1.4.0" -> "ghcr.io/mrveiss/autobot-backend";
# "postgres:16" -> "docker.io/library/postgres" (Docker Hub names as the runtime resolves them).
image_repository(image) := canonical_repository(trim_tag(split(image, "@")[0]))

# Without the tag: from the first ":" of the last path component on, if there is one.
trim_tag(reference) := trim_suffix(reference, tag) if {
	parts := split(reference, "/")
	last := parts[count(parts) - 1]
	tag := trim_prefix(last, split(last, ":")[0])
}

# An else chain: rego-cpp would evaluate every one of three separate function rules.
canonical_repository(repository) := concat("/", ["docker.io/library", repository]) if {
	not contains(repository, "/")
} else := repository if {
	is_registry_host(split(repository, "/")[0])
} else := concat("/", ["docker.io", repository])

# A first path component names a registry when it has a dot or a port, or is localhost.
is_registry_host(part) if contains(part, ".")

is_registry_host(part) if contains(part, ":")

is_registry_host(part) if part == "localhost"
