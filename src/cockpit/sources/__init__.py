"""Live feeds the cockpit reads from: Prometheus (and, later, Kubernetes and error trackers)."""
