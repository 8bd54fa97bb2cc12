// Package bench measures erasure end to end, and only that: it drives a running service the way
// its users do and returns the figures that `erasure bench` prints as its last JSON line. cmd/erasure
// parses the flags, opens the service and prints; everything that is measured, and how, is here.
//
// Four measurements:
//
//   - Deletion (`erasure bench --persons N`): seeds N persons through the batched internal path
//     (app.Seed, not timed), deletes them all in one bulk request and times it until the deletion
//     is terminal; then measures the plain-SQL floor of the same rows and an online replay of
//     the whole log; DeletionResult.
//   - Intake (`--intake N`): streams N IDs as one text/plain request over HTTP, as a client with
//     a file of IDs would; IntakeResult.
//   - Single (`--single N`): seeds N persons, then deletes them one at a time with sequential
//     Tencent DeletePerson calls signed by the official SDK over loopback; SingleResult.
//   - Load (`--load`): concurrent clients mix creates, deletions and status reads against a
//     server, then every accepted deletion is checked: each person deleted exactly once, none
//     lost; LoadResult.
//
// How the deletion bench's figures are defined (their JSON names are cited by docs/performance.md
// and must not change):
//
//   - seconds, persons_per_s: wall time from the bulk request until GET /v1/deletions/{id} is no
//     longer running; p50_ms and p99_ms are the persons' own request-to-terminal latencies.
//   - floor_seconds, ratio: the same rows (persons, faces, permission bindings) deleted by plain
//     SQL in one transaction in scratch tables of the same database; ratio = seconds / floor.
//   - cpu_ms_per_person: the process's user and system CPU time over the deletion phase (seeding,
//     floor and replay excluded), per person; steadier than wall time on a shared machine.
//     write_kb_per_person: bytes the process caused to be written to storage (Linux
//     /proc/self/io), per person.
//   - events_per_person, deliveries_per_person(_by_consumer), sql_statements_per_person,
//     sql_transactions_per_person, allocs_per_person, gc_cpu_ms_per_person: counters read before
//     the bulk request and after it is terminal (see DeletionResult), per person. The bench's own status
//     polls (one every 50 ms) are in the SQL counts and the allocations.
//   - replay_events_per_s, replay_persons_per_s: service.Rebuild over the whole log, beside the
//     running service, as `erasure replay` does.
//   - peak_rss_mb: the process's peak resident set size (VmHWM), seeding and replay included.
//
// The measurements run in the calling process: the CPU, allocation and RSS figures are the
// process's, so they mean something only when the service runs in-process and nothing else
// heavy runs beside it. The CPU profile (DeletionOptions.CPUProfile) covers the deletion phase;
// the service labels its workers, saga steps and projectors (pprof.Do), so the profile splits by
// them.
package bench
