package native

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// stringCalls returns the string-literal arguments at position arg of calls to the named
// functions or methods, in the non-test Go files of dir.
func stringCalls(t *testing.T, dir string, arg int, names ...string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) <= arg {
				return true
			}
			var name string
			switch fn := call.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.Ident:
				name = fn.Name
			}
			if !slices.Contains(names, name) {
				return true
			}
			if lit, ok := call.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				out = append(out, s)
			}
			return true
		})
	}
	return out
}

// TestOpenAPIMatchesRoutes checks that /openapi.json describes every route the native surface
// registers (here, and /metrics in the service), and nothing else.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var registered []string
	for _, dir := range []string{".", filepath.Join("..", "..", "service")} {
		for _, pattern := range stringCalls(t, dir, 0, "HandleFunc", "Handle") {
			method, path, ok := strings.Cut(pattern, " ")
			if !ok {
				continue // a catch-all for any method ("/v1/": NOT_FOUND), not an operation
			}
			if path == "/metrics" || path == "/healthz" || path == "/readyz" || path == "/openapi.json" || strings.HasPrefix(path, "/v1/") {
				registered = append(registered, method+" "+path)
			}
		}
	}
	sort.Strings(registered)
	require.Equal(t, registered, Routes(), "routes registered (left) and described in /openapi.json (right) differ: document the route in operations (openapi.go)")

	// Each described operation is served by exactly that pattern.
	mux := http.NewServeMux()
	New(nil, nil).Register(mux)
	for _, op := range operations {
		if op.path == "/metrics" {
			continue // the service's
		}
		path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.path, "x1")
		_, pattern := mux.Handler(httptest.NewRequest(op.method, path, nil))
		if pattern == "/v1/" && strings.HasPrefix(op.path, "/v1/webhooks") {
			continue // registered only with a webhook dispatcher (SetWebhooks)
		}
		require.Equal(t, op.method+" "+op.path, pattern)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	require.Equal(t, "3.0.3", doc["openapi"])
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	// Every $ref names a schema.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				name := strings.TrimPrefix(r, "#/components/schemas/")
				require.Contains(t, schemas, name, r)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	paths := doc["paths"].(map[string]any)
	n := 0
	for _, item := range paths {
		n += len(item.(map[string]any))
	}
	require.Equal(t, len(operations), n)
	// Served as it is built.
	rec := httptest.NewRecorder()
	serveOpenAPI(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	require.Equal(t, OpenAPI(), rec.Body.Bytes())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
}

// TestErrorCodesDocumented checks that every request-level code the surface can answer is in
// /openapi.json with its status, and that docs/api.md's table lists the same codes.
func TestErrorCodesDocumented(t *testing.T) {
	documented := map[string]int{}
	for _, e := range requestErrors {
		require.NotContains(t, documented, e.Code, "listed twice")
		documented[e.Code] = e.Status
	}
	answered := map[string]int{}
	for _, row := range errorTable {
		answered[row.code] = row.status
	}
	answered["INTERNAL"] = http.StatusInternalServerError
	for _, code := range stringCalls(t, ".", 2, "writeCode") {
		answered[code] = 0 // status checked below where the call is literal
	}
	for code, status := range answered {
		require.Contains(t, documented, code, "%s is answered but not in requestErrors (openapi.go)", code)
		if status != 0 {
			require.Equal(t, status, documented[code], code)
		}
	}
	for code := range documented {
		require.Contains(t, answered, code, "%s is documented but never answered", code)
	}

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	require.NoError(t, err)
	section := string(doc)
	start := strings.Index(section, "\n## Request-level error codes\n")
	require.GreaterOrEqual(t, start, 0, "docs/api.md lacks the request-level error codes table")
	section = section[start+1:]
	if end := strings.Index(section[1:], "\n#"); end >= 0 {
		section = section[:end+1]
	}
	inDoc := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(section, -1) {
		status, _ := strconv.Atoi(m[2])
		inDoc[m[1]] = status
	}
	require.Equal(t, documented, inDoc, "docs/api.md's request-level error codes (right) differ from openapi.go's requestErrors (left)")
}
