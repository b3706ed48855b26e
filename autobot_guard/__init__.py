"""autobot-guard: policy-as-code compliance checker for AutoBot's Kubernetes manifests."""

__version__ = "0.1.0"
