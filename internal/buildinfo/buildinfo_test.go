package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want Info
	}{
		{"go build in a repository", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-05T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "v1.2.3", Revision: "abc123", Time: "2026-12-05T10:00:00Z", Modified: "true", GoVersion: "go1.26.8"}},
		{"go run: no VCS stamp", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			Info{Version: Devel, Revision: Unknown, Time: Unknown, Modified: Unknown, GoVersion: "go1.26.8"}},
		{"go test: nothing recorded", debug.BuildInfo{},
			Info{Version: Devel, Revision: Unknown, Time: Unknown, Modified: Unknown, GoVersion: runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, From(&tc.bi))
		})
	}
}

func TestReadFillsEveryField(t *testing.T) {
	t.Parallel()
	info := Read()
	for name, v := range map[string]string{"version": info.Version, "revision": info.Revision, "time": info.Time,
		"modified": info.Modified, "go_version": info.GoVersion} {
		require.NotEmpty(t, v, name)
	}
	require.Equal(t, runtime.Version(), info.GoVersion)
}
