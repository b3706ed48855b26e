# Images come only from AutoBot's own registry (ghcr.io/mrveiss) or from the upstream
# repositories the reference stack runs (manifests/): a copy of an upstream image in
# another registry, or a look-alike repository, is not trusted.
package main.images

import rego.v1

import data.lib.kubernetes as k8s

approved_prefixes := {"ghcr.io/mrveiss/"}

# The upstream images of manifests/, in canonical form (Docker Hub names with docker.io/).
approved_repositories := {
	"docker.io/chromadb/chroma",
	"docker.io/fluent/fluentd-kubernetes-daemonset",
	"docker.io/library/postgres",
	"docker.io/ollama/ollama",
	"docker.io/openpolicyagent/opa",
	"docker.io/redis/redis-stack-server",
	"docker.elastic.co/elasticsearch/elasticsearch",
	"docker.elastic.co/kibana/kibana",
}

deny contains result if {
	some [path, name, image] in k8s.container_images
	is_string(image)
	repository := k8s.image_repository(image)
	not approved(repository)
	result := {
		"msg": concat("", [
			"container '", name, "' uses image '", image, "' from ", repository,
			", which is not an approved source (ghcr.io/mrveiss or an approved upstream repository)",
		]),
		"rule": "approved-registry",
		"field": array.concat(path, ["image"]),
	}
}

approved(repository) if repository in approved_repositories

approved(repository) if {
	some prefix in approved_prefixes
	startswith(repository, prefix)
}
