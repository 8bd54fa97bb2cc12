// Package deploy holds deployment assets for erasure (deploy/nats.conf, used
// by compose.yaml and the Dockerfile at the repository root) and tests that
// statically validate them: the compose file must describe a 3-node NATS
// JetStream cluster, PostgreSQL 16 and two erasure replicas wired to both,
// and the Dockerfile must build ./cmd/erasure. The tests need no Docker.
package deploy
