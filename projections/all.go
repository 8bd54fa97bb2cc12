package projections

// All returns every read-model projector, in the order a batch is applied: the live runner,
// a replay and the benchmark all build the same read model from it.
func All() []Projector {
	return []Projector{Registry{}, Deletions{}, Permissions{}, Audit{}, TargetOutcomes{}}
}
