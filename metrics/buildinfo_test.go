package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/buildinfo"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestBuildInfoOnMetrics: a running service's /metrics says which build it is, as `erasure
// version` does.
func TestBuildInfoOnMetrics(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	resp, err := http.Get(env.HTTP.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	b := buildinfo.Read()
	require.Contains(t, string(body), fmt.Sprintf(`erasure_build_info{go_version=%q,revision=%q,version=%q} 1`, b.GoVersion, b.Revision, b.Version))
}
