// Package deploy holds deployment assets for erasure (deploy/nats.conf, used
// by compose.yaml and the Dockerfile at the repository root) and tests that
// statically validate them: the compose file must describe a 3-node NATS
// JetStream cluster, PostgreSQL 16 and two erasure replicas wired to both,
// and the Dockerfile must build ./cmd/erasure. It also holds the Grafana dashboard
// (grafana/erasure-dashboard.json) and the Prometheus alert rules (prometheus/alerts.yaml),
// whose tests check that every metric they use exists in erasure's registry
// (docs/operations-metrics.md). The tests need no Docker.
package deploy
