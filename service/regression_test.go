package service_test

// Regression tests for what a review of a running server found to hold (issue 15): they keep
// it holding.

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// A client that sends half a request header and then nothing is disconnected once the
// server's ReadHeaderTimeout (10 s) passes: a slow-header client cannot hold a connection, and
// the goroutine behind it, for as long as it likes.
func TestHalfSentHeaderIsCutOff(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serve(t, env, ln)

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
	require.NoError(t, err)
	// Far beyond the timeout, so that a server without one fails here rather than hanging.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(40*time.Second)))
	answer, err := io.ReadAll(bufio.NewReader(conn)) // until the server closes the connection
	elapsed := time.Since(start)
	require.NoError(t, err, "the server kept the connection open for %s", elapsed)
	// Closed without an answer, or with a 408: never the health answer the header asked for.
	require.NotContains(t, string(answer), "200 OK")
	require.Less(t, elapsed, 30*time.Second, "the header timeout is about 10 s")
	require.Greater(t, elapsed, 5*time.Second, "a client is given its ReadHeaderTimeout, not less")
}

// secretNames are the names of values that hold or derive from a credential: comparing such a
// value with == (or bytes.Equal, strings.EqualFold) takes time that depends on how much of a
// guess matches.
var secretNames = regexp.MustCompile(`(?i)(secret|token|signature|^sigs?$|hmac|^mac$|digest|bearer|password|^sums?$|^key$|apikey)`)

// Comparisons of secret-looking names that compare no secret, by file and the two sides.
var publicComparisons = map[string]bool{
	// The SecretId is Tencent's public key identifier (sent in clear in every Authorization);
	// the secret key never leaves the HMAC, whose result is compared with hmac.Equal.
	"api/tencent/auth.go: secretID secretID": true,
	// A receipt's signature is public; the check is of its canonical encoding, then Ed25519.
	"receipts/receipts.go: sig Signature": true,
}

// Credentials are compared in constant time: API keys and the Sophon token by
// subtle.ConstantTimeCompare of their hashes, Tencent signatures by hmac.Equal, and no code
// compares a credential-named value with == or a short-circuiting function.
func TestSecretsAreComparedInConstantTime(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..")
	fset := token.NewFileSet()
	uses := map[string][]string{} // constant-time function -> the files that call it
	var found []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "docs" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		ast.Inspect(f, func(n ast.Node) bool {
			var a, b ast.Expr
			switch x := n.(type) {
			case *ast.BinaryExpr:
				if x.Op != token.EQL && x.Op != token.NEQ {
					return true
				}
				a, b = x.X, x.Y
			case *ast.CallExpr:
				fn := calledFunc(x)
				switch fn {
				case "subtle.ConstantTimeCompare", "hmac.Equal":
					uses[fn] = append(uses[fn], rel)
					return true
				case "bytes.Equal", "bytes.Compare", "strings.EqualFold", "strings.Compare", "reflect.DeepEqual":
					if len(x.Args) == 2 {
						a, b = x.Args[0], x.Args[1]
					}
				}
			}
			if a == nil || trivialOperand(a) || trivialOperand(b) {
				return true
			}
			if secretNames.MatchString(operandName(a)) || secretNames.MatchString(operandName(b)) {
				key := rel + ": " + operandName(a) + " " + operandName(b)
				if !publicComparisons[key] {
					found = append(found, fset.Position(n.Pos()).String()+": "+key)
				}
			}
			return true
		})
		return nil
	}))
	require.Empty(t, found, "credential-named values compared in variable time; use subtle.ConstantTimeCompare or hmac.Equal")
	require.Contains(t, uses["subtle.ConstantTimeCompare"], "api/httpx/auth.go", "bearer keys (API keys, the Sophon token)")
	require.Contains(t, uses["subtle.ConstantTimeCompare"], "console/session.go", "the console's CSRF tokens")
	require.Contains(t, uses, "hmac.Equal", "Tencent TC3 signatures")
}

func calledFunc(c *ast.CallExpr) string {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return pkg.Name + "." + sel.Sel.Name
}

// operandName is the name a compared expression goes by: x, a.x, x[i], x[:n], string(x).
func operandName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.IndexExpr:
		return operandName(x.X)
	case *ast.SliceExpr:
		return operandName(x.X)
	case *ast.StarExpr:
		return operandName(x.X)
	case *ast.CallExpr:
		if len(x.Args) == 1 {
			return operandName(x.Args[0])
		}
	}
	return ""
}

// trivialOperand is a literal, nil or a length: comparing with one reveals nothing of a secret.
func trivialOperand(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return x.Name == "nil" || x.Name == "true" || x.Name == "false"
	case *ast.CallExpr:
		id, ok := x.Fun.(*ast.Ident)
		return ok && (id.Name == "len" || id.Name == "cap")
	}
	return false
}
