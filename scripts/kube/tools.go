//go:build tools

// Package tools names the programs this module builds, so that go mod tidy keeps
// everything they need in go.mod and go.sum. It is never compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
