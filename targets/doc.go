// Package targets adapts the saga's Target port (sagas.Target) to external systems a person is also
// deleted from: Sophon edge boxes (deleteidentities), Tencent Cloud IAI face libraries (the
// official SDK) and generic HTTP services. Targets are configured in a file (YAML) whose
// secrets come from the environment.
package targets
