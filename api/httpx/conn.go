package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
)

type connKey struct{}

// ConnContext is an http.Server's ConnContext: it gives each accepted connection an ID no other
// connection of any replica has, which ConnID reads back. Two connections one after another may
// share their addresses (a port used again); they never share this.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	var id [12]byte
	_, _ = rand.Read(id[:])
	return context.WithValue(ctx, connKey{}, hex.EncodeToString(id[:]))
}

// ConnID names the connection r came over: the ID ConnContext gave it, or, on a server without
// it, the server's and the client's address, which no other open connection shares.
func ConnID(r *http.Request) string {
	if id, ok := r.Context().Value(connKey{}).(string); ok {
		return id
	}
	local := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a.String()
	}
	return local + "<" + r.RemoteAddr
}
