package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGuardHosts(t *testing.T) {
	hosts := NewHosts("erasure.internal", "proxy:8443", "10.0.0.7", "[fd00::1]")
	for _, tt := range []struct {
		host  string
		allow bool
	}{
		{"127.0.0.1:8080", true},
		{"127.9.9.9", true},
		{"[::1]:8080", true},
		{"[::ffff:127.0.0.1]:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST", true},
		{"localhost.:8080", true},
		{"console.localhost:8080", true},
		{"erasure.internal:8080", true}, // listed without a port: any port
		{"Erasure.Internal", true},
		{"proxy:8443", true},
		{"proxy:8080", false}, // listed with a port: that port only
		{"proxy", false},
		{"10.0.0.7:80", true},
		{"[fd00::1]:8080", true},
		{"", true}, // HTTP/1.0 without Host: not a browser
		{"rebind.evil.example", false},
		{"rebind.evil.example:8080", false},
		{"localhost.evil.example", false},
		{"evil-localhost", false},
		{"192.168.1.5:8080", false},
		{"[fd00::2]:8080", false},
	} {
		require.Equal(t, tt.allow, hosts.Allow(tt.host), tt.host)
	}

	// In the guard: refused in the surface's format, unless the surface takes any Host.
	h, refused, served := guarded(t, GuardConfig{Hosts: NewHosts()}, &Surface{Name: "test"})
	for _, host := range []string{"rebind.evil.example", "localhost:1"} {
		req := httptest.NewRequest("GET", "/v1/persons", nil)
		req.Host = host
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	require.Len(t, *refused, 1)
	require.ErrorIs(t, (*refused)[0].err, ErrHostNotAllowed)
	require.Contains(t, (*refused)[0].err.Error(), "ERASURE_ALLOWED_HOSTS")
	require.Len(t, *served, 1)

	probe, refused, served := guarded(t, GuardConfig{Hosts: NewHosts()}, &Surface{Name: "test", AnyHost: true})
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Host = "10.1.2.3:8080"
	probe.ServeHTTP(httptest.NewRecorder(), req)
	require.Empty(t, *refused)
	require.Len(t, *served, 1)
}

func TestGuardCrossSite(t *testing.T) {
	h, refused, served := guarded(t, GuardConfig{}, &Surface{Name: "test"})
	for _, tt := range []struct {
		name, method string
		header       map[string]string
		refuse       bool
	}{
		{"curl: no browser headers", "POST", nil, false},
		{"same origin", "POST", map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, false},
		{"same origin, old browser", "POST", map[string]string{"Origin": "http://127.0.0.1:8080"}, false},
		{"typed in the address bar", "POST", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"another site", "POST", map[string]string{"Origin": "http://evil.example"}, true},
		{"another site, Sec-Fetch-Site", "POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"a sibling site", "DELETE", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://a.127.0.0.1:8080"}, true},
		{"same host, other port", "PUT", map[string]string{"Origin": "http://127.0.0.1:9999"}, true},
		{"null origin", "POST", map[string]string{"Origin": "null"}, true},
		{"null origin marked same-origin", "POST", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, true},
		{"a read from another site", "GET", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
	} {
		*refused, *served = nil, nil
		req := httptest.NewRequest(tt.method, "http://127.0.0.1:8080/v1/deletions", strings.NewReader("p-1\n"))
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !tt.refuse {
			require.Empty(t, *refused, tt.name)
			require.Len(t, *served, 1, tt.name)
			continue
		}
		require.Equal(t, http.StatusTeapot, rec.Code, tt.name)
		require.Empty(t, *served, tt.name)
		require.Len(t, *refused, 1, tt.name)
		require.ErrorIs(t, (*refused)[0].err, ErrCrossSite, tt.name)
	}
}
