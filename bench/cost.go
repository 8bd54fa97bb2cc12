package bench

import (
	"context"
	"math"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/internal/wmjs"
	"github.com/erasure-dev/erasure/service"
)

// cost is a reading of the counters behind the deletion's cost figures.
type cost struct {
	lastSeq    uint64            // the stream's last sequence
	delivered  uint64            // messages received by the log's consumers in this process
	byConsumer map[string]uint64 // the server's count per durable consumer
	sql        sqldb.Counts
	mallocs    uint64
	gcCPU      float64 // seconds
}

func measureCost(ctx context.Context, svc *service.Service) (cost, error) {
	var c cost
	var err error
	if c.lastSeq, err = svc.Log.LastSequence(ctx); err != nil {
		return c, err
	}
	if c.byConsumer, err = svc.Log.ConsumerDeliveries(ctx); err != nil {
		return c, err
	}
	// Both consumer paths count in the client: the log's own consumers (events) and the webhook
	// intake's Watermill subscriber (wmjs).
	c.delivered = eventlog.Delivered() + wmjs.Delivered()
	c.sql = sqldb.Executed()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c.mallocs = ms.Mallocs
	gc := []rtmetrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	rtmetrics.Read(gc)
	if gc[0].Value.Kind() == rtmetrics.KindFloat64 {
		c.gcCPU = gc[0].Value.Float64()
	}
	return c, nil
}

// sub is what was counted between before and c. A durable consumer created meanwhile counts
// from zero.
func (c cost) sub(before cost) cost {
	d := cost{lastSeq: c.lastSeq - before.lastSeq, delivered: c.delivered - before.delivered, sql: c.sql.Sub(before.sql),
		mallocs: c.mallocs - before.mallocs, gcCPU: c.gcCPU - before.gcCPU, byConsumer: map[string]uint64{}}
	for name, n := range c.byConsumer {
		d.byConsumer[name] = n - min(n, before.byConsumer[name])
	}
	return d
}

// perPerson fills res's cost figures from c, a difference (sub), divided by persons. The split
// by consumer is rounded to hundredths; "followers" is what no durable consumer received: the
// ordered consumers (the projection's, a replay's), which the server does not count by name.
func (c cost) perPerson(res *DeletionResult, persons int) {
	per := func(n float64) float64 { return n / float64(persons) }
	res.EventsPerPerson = per(float64(c.lastSeq))
	res.DeliveriesPerPerson = per(float64(c.delivered))
	res.SQLStatementsPerPerson = per(float64(c.sql.Statements))
	res.SQLTransactionsPerPerson = per(float64(c.sql.Transactions))
	res.AllocsPerPerson = per(float64(c.mallocs))
	res.GCCPUmsPerPerson = per(c.gcCPU * 1000)
	res.DeliveriesByConsumer = map[string]float64{}
	var durable uint64
	for name, n := range c.byConsumer {
		durable += n
		res.DeliveriesByConsumer[name] = math.Round(per(float64(n))*100) / 100
	}
	res.DeliveriesByConsumer["followers"] = math.Round(per(float64(c.delivered-min(durable, c.delivered)))*100) / 100
}

// processCPU is the process's user and system time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processWritten is how many bytes the process has caused to be written to storage (Linux; 0
// elsewhere).
func processWritten() uint64 {
	n, _ := strconv.ParseUint(procField("/proc/self/io", "write_bytes:"), 10, 64)
	return n
}

// peakRSSMB is the process's peak resident set size (VmHWM; Linux, 0 elsewhere).
func peakRSSMB() float64 {
	kb, _ := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/self/status", "VmHWM:"), " kB"), 64)
	return kb / 1024
}

// procField is the value after key on its line of a /proc file, trimmed; "" where there is none.
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}
