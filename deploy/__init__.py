"""Deployment: the one-machine cluster (`cluster.py`), the Dockerfile, the Compose file and
the Kubernetes manifests (docs/deploy.md)."""
