package storeerr_test

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/lib/pq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/internal/storeerr"
)

func TestDown(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("purge faces: %w", err) }
	tests := []struct {
		name string
		err  error
		down bool
	}{
		{"nil", nil, false},
		{"a refusal", errors.New("person not found"), false},
		{"postgres shutting down", wrap(&pq.Error{Code: "57P01"}), true},
		{"postgres connection failure", wrap(&pq.Error{Code: "08006"}), true},
		{"postgres disk full", wrap(&pq.Error{Code: "53100"}), true},
		{"postgres unique violation", wrap(&pq.Error{Code: "23505"}), false},
		{"connection refused", wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{"no space", wrap(syscall.ENOSPC), true},
		{"sqlite full, in words", errors.New("database or disk is full (13)"), true},
		{"jetstream insufficient storage", wrap(&jetstream.APIError{Code: 500, ErrorCode: 10047}), true},
		{"jetstream cluster unavailable", wrap(&jetstream.APIError{Code: 503, ErrorCode: 10008}), true},
		{"jetstream wrong last sequence", wrap(&jetstream.APIError{Code: 400, ErrorCode: 10071}), false},
		{"no responders", wrap(nats.ErrNoResponders), true},
		{"publish timeout", wrap(nats.ErrTimeout), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := storeerr.Down(tt.err); got != tt.down {
				t.Fatalf("Down(%v) = %v, want %v", tt.err, got, tt.down)
			}
		})
	}
}
