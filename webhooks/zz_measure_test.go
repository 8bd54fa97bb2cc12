package webhooks_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/service"
)

func TestZZMeasureIntake(t *testing.T) {
	dir := os.Getenv("MEASURE_DIR")
	if dir == "" {
		t.Skip()
	}
	cfg := config.FromEnv()
	cfg.DataDir = dir
	port := testenv.FreePort(t)
	cfg.NATSListen = fmt.Sprintf("127.0.0.1:%d", port)
	start := time.Now()
	svc, err := service.Open(context.Background(), cfg, testenv.Logger(), service.Without("projection-rebuild"))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for {
		c, err := js.Consumer(context.Background(), "ERASURE", "erasure_webhooks")
		if err == nil {
			info, err := c.Info(context.Background())
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
				t.Logf("caught up to %d in %s", info.Delivered.Stream, time.Since(start))
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
