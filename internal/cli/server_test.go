package cli

import (
	"context"
	"net/http/httptest"
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
