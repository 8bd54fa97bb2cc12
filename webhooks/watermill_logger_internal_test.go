package webhooks

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/stretchr/testify/require"
)

func TestWatermillLoggerKeepsTheLevelsItIsGiven(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		level slog.Level
		want  []string // the messages written, in order
	}{
		{slog.LevelInfo, []string{"error"}},
		{slog.LevelDebug, []string{"info", "debug", "error"}}, // Watermill's Info is Debug
		{watermill.LevelTrace, []string{"trace", "info", "debug", "error"}},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := newWatermillLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))).
				With(watermill.LogFields{"handler": "h"})
			f := watermill.LogFields{"uuid": "u"}
			l.Trace("trace", f)
			l.Info("info", f)
			l.Debug("debug", f)
			l.Error("error", errors.New("boom"), f)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				require.Contains(t, line, "handler=h")
				require.Contains(t, line, "uuid=u")
				_, msg, _ := strings.Cut(line, "msg=")
				got = append(got, strings.Fields(msg)[0])
			}
			require.Equal(t, tc.want, got)
		})
	}
}
