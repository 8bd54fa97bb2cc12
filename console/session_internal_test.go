package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessionExpiresOnTheServer(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	s := newSessions(8 * time.Hour)
	s.now = func() time.Time { return now }
	ss := s.start("ops", false)
	now = now.Add(8*time.Hour - time.Second)
	got, ok := s.get(ss.id)
	require.True(t, ok)
	require.Equal(t, "ops", got.actor)
	now = now.Add(2 * time.Second)
	_, ok = s.get(ss.id)
	require.False(t, ok, "an expired session opens nothing, whatever the browser kept")
	require.Empty(t, s.byID, "and is forgotten")
}

func TestSessionsAreBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	s := newSessions(time.Hour)
	s.now = func() time.Time { return now }
	first := s.start("console", false)
	for range maxSessions {
		now = now.Add(time.Millisecond)
		s.start("console", false)
	}
	require.Len(t, s.byID, maxSessions)
	_, ok := s.get(first.id)
	require.False(t, ok, "the session closest to its end made room")
}

func TestSafeNextStaysInTheConsole(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/deletions/x?state=failed": "/ui/deletions/x?state=failed",
		"":                             "/ui/",
		"https://evil.example/ui/":     "/ui/",
		"//evil.example/ui/":           "/ui/",
		"/ui/login":                    "/ui/",
		"/ui/\\evil":                   "/ui/",
		"/v1/deletions":                "/ui/",
	} {
		require.Equal(t, want, safeNext(in), in)
	}
}

func TestProgress(t *testing.T) {
	created := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		d       deletion
		now     time.Time
		percent int
		rate    string
		eta     string
		running bool
	}{
		"running":     {deletion{State: "running", CreatedAt: created, Total: 1000, Pending: 600, Deleted: 350, Failed: 50}, created.Add(10 * time.Second), 40, "40.0/s", "15s", true},
		"one left":    {deletion{State: "running", CreatedAt: created, Total: 1000, Pending: 1, Deleted: 999}, created.Add(10 * time.Second), 99, "99.9/s", "under 1s", true},
		"not started": {deletion{State: "running", CreatedAt: created, Total: 5, Pending: 5}, created.Add(time.Second), 0, "", "", true},
		"completed": {deletion{State: "completed", CreatedAt: created, CompletedAt: ptr(created.Add(4 * time.Second)), Total: 2000, Deleted: 2000},
			created.Add(time.Hour), 100, "500/s", "", false},
	} {
		p := progressOf(tc.d, tc.now)
		require.Equal(t, tc.percent, p.Percent, name)
		require.Equal(t, tc.rate, p.Rate, name)
		require.Equal(t, tc.eta, p.ETA, name)
		require.Equal(t, tc.running, p.Running, name)
	}
}

func ptr[T any](v T) *T { return &v }
