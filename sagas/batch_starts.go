package sagas

import (
	"sync"

	"github.com/erasure-dev/erasure/events"
)

// batchStarts keeps the DeletionBatchStarted of the batches this replica is driving, so that a
// step reads its batch's start from memory: decoding it from the log at every step (it lists
// every person of the batch with its faces) was most of what a step cost the saga besides the
// stores. A start never changes once recorded, so a kept one is never stale; one that is not
// kept (evicted, another replica's batch, a restart) is read from the log.
//
// It holds at most maxPersons persons' worth of starts, evicting the oldest kept first: about
// 200 bytes a person, so a few tens of megabytes at most, whatever the bulk's size. Only the
// replica that records a batch's end forgets its start at once; a start another replica ended
// waits here for eviction (bounded all the same).
type batchStarts struct {
	mu         sync.Mutex
	maxPersons int
	persons    int
	byBatch    map[string]events.Recorded
	order      []string // batches in the order kept, oldest first (some may be gone already)
}

func newBatchStarts(maxPersons int) *batchStarts {
	return &batchStarts{maxPersons: maxPersons, byBatch: map[string]events.Recorded{}}
}

func personsOf(r events.Recorded) int {
	return len(r.Data.(events.DeletionBatchStarted).Persons)
}

func (c *batchStarts) get(batch string) (events.Recorded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byBatch[batch]
	return r, ok
}

// put keeps start, the recorded DeletionBatchStarted of batch.
func (c *batchStarts) put(batch string, start events.Recorded) {
	n := personsOf(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byBatch[batch]; ok || n > c.maxPersons {
		return
	}
	for c.persons+n > c.maxPersons && len(c.order) > 0 {
		oldest := c.order[0]
		c.order = c.order[1:]
		if r, ok := c.byBatch[oldest]; ok {
			c.persons -= personsOf(r)
			delete(c.byBatch, oldest)
		}
	}
	c.byBatch[batch] = start
	c.order = append(c.order, batch)
	c.persons += n
}

// forget drops batch's start: the batch is complete.
func (c *batchStarts) forget(batch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.byBatch[batch]; ok {
		c.persons -= personsOf(r)
		delete(c.byBatch, batch)
	}
	// Keep order from growing without end: drop forgotten batches from its front, and compact
	// it when one long-kept start holds many forgotten ones behind it.
	for len(c.order) > 0 {
		if _, ok := c.byBatch[c.order[0]]; ok {
			break
		}
		c.order = c.order[1:]
	}
	if len(c.order) > 2*len(c.byBatch)+16 {
		kept := make([]string, 0, len(c.byBatch))
		seen := make(map[string]bool, len(c.byBatch))
		for _, b := range c.order {
			if _, ok := c.byBatch[b]; ok && !seen[b] {
				kept, seen[b] = append(kept, b), true
			}
		}
		c.order = kept
	}
}
