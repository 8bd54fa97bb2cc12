package sagas

import (
	"container/list"
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
	byBatch    map[string]*list.Element // of keptStart, oldest kept at the list's front
	order      *list.List
}

type keptStart struct {
	batch string
	start events.Recorded
}

func newBatchStarts(maxPersons int) *batchStarts {
	return &batchStarts{maxPersons: maxPersons, byBatch: map[string]*list.Element{}, order: list.New()}
}

func personsOf(r events.Recorded) int {
	return len(r.Data.(events.DeletionBatchStarted).Persons)
}

func (c *batchStarts) get(batch string) (events.Recorded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byBatch[batch]; ok {
		return e.Value.(keptStart).start, true
	}
	return events.Recorded{}, false
}

// put keeps start, the recorded DeletionBatchStarted of batch.
func (c *batchStarts) put(batch string, start events.Recorded) {
	n := personsOf(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byBatch[batch]; ok || n > c.maxPersons {
		return
	}
	for c.persons+n > c.maxPersons {
		c.remove(c.order.Front())
	}
	c.byBatch[batch] = c.order.PushBack(keptStart{batch, start})
	c.persons += n
}

// forget drops batch's start: the batch is complete.
func (c *batchStarts) forget(batch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byBatch[batch]; ok {
		c.remove(e)
	}
}

func (c *batchStarts) remove(e *list.Element) {
	k := c.order.Remove(e).(keptStart)
	delete(c.byBatch, k.batch)
	c.persons -= personsOf(k.start)
}
