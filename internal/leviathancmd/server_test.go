package leviathancmd

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/worker"
)

// startServer serves w on loopback for the test's lifetime.
func startServer(t *testing.T, w *worker.Worker) string {
	t.Helper()
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		w.Close(ctx)
	})
	return srv.URL
}

// triggerWriter calls then once, when the output first contains when.
type triggerWriter struct {
	mu   sync.Mutex
	w    io.Writer
	seen string
	when string
	then func()
	done bool
}

func (t *triggerWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen += string(p)
	if !t.done && strings.Contains(t.seen, t.when) {
		t.done = true
		t.then()
	}
	return t.w.Write(p)
}
