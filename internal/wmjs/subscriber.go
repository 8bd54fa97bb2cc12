// Package wmjs is a Watermill subscriber over a JetStream durable pull consumer that the caller
// provisioned.
//
// Why not watermill-nats: both its subscribers (pkg/nats and the beta pkg/jetstream) close the
// output channel from one goroutine while NATS callback goroutines may still send on it
// (Unsubscribe and Drain do not wait for a running callback). Under the race detector that is a
// data race on every shutdown with a message in flight, and in production a possible "send on
// closed channel" panic. Here a single goroutine reads the consumer, sends on the output and
// closes it, so the close can never overlap a send.
package wmjs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// delivered counts the messages every Subscriber in this process has taken from its consumer.
var delivered atomic.Uint64

// Delivered returns how many messages the subscribers in this process have received since it
// started, redeliveries included (the benchmark's deliveries_per_person adds it to the log's own
// consumers' count).
func Delivered() uint64 { return delivered.Load() }

// pullHeartbeat is the idle heartbeat a subscription asks the server for.
const pullHeartbeat = time.Second

// Unmarshal turns a JetStream message into a Watermill message.
type Unmarshal func(jetstream.Msg) (*message.Message, error)

// Config configures a Subscriber.
type Config struct {
	Consumer  jetstream.Consumer // durable, created by the caller (it outlives the subscriber)
	Unmarshal Unmarshal
	// NakDelay says how long a nacked message waits before JetStream redelivers it, by
	// delivery count; wmnats.TermSignal terminates it instead. watermill-nats' delays
	// (NewStaticDelay, NewMaxRetryDelay) fit. Default: redeliver after a second.
	NakDelay wmnats.Delay
	// BatchSize bounds the messages pulled ahead of the handler (default 64).
	BatchSize int
	Logger    watermill.LoggerAdapter
	// Skip, when set, tells the messages the handler would acknowledge without reading them:
	// they are acknowledged here and never become Watermill messages. A consumer that reads
	// every event of the log to act on a few kinds (the webhook intake) otherwise passes each
	// one through the router, a message, a context and three goroutine hand-offs apiece, and
	// lagged a bulk deletion by seconds.
	Skip func(context.Context, jetstream.Msg) bool
}

// Subscriber delivers a consumer's messages one at a time, acking each once the handler acked
// it and nacking (with NakDelay) what the handler nacked or what was in flight at shutdown.
type Subscriber struct {
	cfg     Config
	closing chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// New returns a Subscriber.
func New(cfg Config) (*Subscriber, error) {
	if cfg.Consumer == nil || cfg.Unmarshal == nil {
		return nil, errors.New("wmjs: Consumer and Unmarshal are required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = watermill.NopLogger{}
	}
	if cfg.NakDelay == nil {
		cfg.NakDelay = wmnats.NewStaticDelay(time.Second)
	}
	return &Subscriber{cfg: cfg, closing: make(chan struct{})}, nil
}

// Subscribe starts consuming. The topic is ignored: the consumer's filter decides what arrives.
func (s *Subscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	select {
	case <-s.closing:
		return nil, errors.New("wmjs: subscriber closed")
	default:
	}
	// Missing heartbeats (seen a few times in a million-person bulk) are the iterator's to
	// recover from by pulling again: reported from Next, as nats.go does by default, they ended
	// the subscription and tore the router down and back up.
	//
	// A short heartbeat, as eventlog.Consume's: nats.go sends the next pull from Next only while
	// no earlier request is still being sent, and an answer that beat that send left none
	// outstanding until two heartbeats were missed (30 s with the default). With the events it
	// skips acknowledged at once, the webhook intake met it: once in three 20,000-person benches
	// it received nothing for over 10 s with 22,000 events waiting.
	it, err := s.cfg.Consumer.Messages(jetstream.PullMaxMessages(s.cfg.BatchSize), jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.WithMessagesErrOnMissingHeartbeat(false))
	if err != nil {
		return nil, fmt.Errorf("wmjs: consume: %w", err)
	}
	out := make(chan *message.Message)
	ctx, cancel := context.WithCancel(ctx)
	s.wg.Add(2)
	go func() { // Next blocks; stopping the iterator is what unblocks it
		defer s.wg.Done()
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		cancel()
		it.Stop()
	}()
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer cancel()
		for {
			m, err := it.Next()
			if err != nil {
				// Stopped, or ended by the server or the connection: the output closes, and the
				// router's owner subscribes again (the durable keeps the position). Said, so that
				// an ending nobody asked for shows its cause.
				if ctx.Err() == nil {
					var fields watermill.LogFields
					if ci := s.cfg.Consumer.CachedInfo(); ci != nil {
						fields = watermill.LogFields{"consumer": ci.Name}
					}
					s.cfg.Logger.Error("wmjs: the consumer's messages ended", err, fields)
				}
				return
			}
			delivered.Add(1)
			if !s.deliver(ctx, m, out) {
				return
			}
		}
	}()
	return out, nil
}

// deliver hands one message to the handler and settles it; false once shutting down.
func (s *Subscriber) deliver(ctx context.Context, m jetstream.Msg, out chan<- *message.Message) bool {
	if s.skip(ctx, m) {
		if err := m.Ack(); err != nil {
			s.cfg.Logger.Error("wmjs: ack", err, nil) // redelivered after AckWait, and skipped again
		}
		return true
	}
	msg, err := s.cfg.Unmarshal(m)
	if err != nil {
		// Redelivery cannot make it readable: terminate it rather than loop on it forever.
		s.cfg.Logger.Error("wmjs: unreadable message terminated", err, watermill.LogFields{"subject": m.Subject()})
		_ = m.Term()
		return true
	}
	msgCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	msg.SetContext(msgCtx)
	select {
	case out <- msg:
	case <-ctx.Done():
		s.nak(m)
		return false
	}
	select {
	case <-msg.Acked():
		if err := m.Ack(); err != nil {
			s.cfg.Logger.Error("wmjs: ack", err, nil) // redelivered after AckWait: handlers are idempotent
		}
		return true
	case <-msg.Nacked():
		s.nak(m)
		return true
	case <-ctx.Done():
		s.nak(m)
		return false
	}
}

// skip asks cfg.Skip. A panic in it, which the router's Recoverer would have caught in the
// handler, hands the message to the handler instead of ending the process.
func (s *Subscriber) skip(ctx context.Context, m jetstream.Msg) (skip bool) {
	if s.cfg.Skip == nil {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Logger.Error("wmjs: Skip panicked; the handler gets the message", fmt.Errorf("%v", r), nil)
			skip = false
		}
	}()
	return s.cfg.Skip(ctx, m)
}

// nak hands a message back to JetStream for redelivery after the configured delay.
func (s *Subscriber) nak(m jetstream.Msg) {
	var delivered uint64
	if md, err := m.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	d := s.cfg.NakDelay.WaitTime(delivered)
	var err error
	if d == wmnats.TermSignal {
		err = m.Term()
	} else {
		err = m.NakWithDelay(d)
	}
	if err != nil { // redelivered after AckWait anyway
		s.cfg.Logger.Error("wmjs: nak", err, watermill.LogFields{"subject": m.Subject()})
	}
}

// Close stops every subscription and waits until their outputs are closed.
func (s *Subscriber) Close() error {
	s.once.Do(func() { close(s.closing) })
	s.wg.Wait()
	return nil
}
