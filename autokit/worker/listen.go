package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ErrNoToken is returned by ListenAndServe when asked to listen beyond
// loopback without a token.
var ErrNoToken = errors.New("worker: refusing to listen on a non-loopback address without a token: anyone on the network could power, flash and run commands as root on the DUT; set a token (leviathan worker --token) or listen on 127.0.0.1")

// shutdownGrace is how long ListenAndServe lets requests finish.
const shutdownGrace = 5 * time.Second

// ListenAndServe serves w's API on addr until ctx ends, then shuts the
// server down (it does not Close w). Listening on anything but a loopback
// address needs a worker with a token. log (may be nil) gets the address
// served and server errors.
func ListenAndServe(ctx context.Context, addr string, w *Worker, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if w.token == "" {
		loop, err := isLoopback(ctx, addr)
		if err != nil {
			return err
		}
		if !loop {
			return fmt.Errorf("%w (address %s)", ErrNoToken, addr)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	srv := &http.Server{
		Handler:           w.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("worker listening", "addr", ln.Addr().String(), "dut", w.d.Name(), "token", w.token != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("worker: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Streams (serial follow) do not end by themselves.
		srv.Close()
	}
	<-errc
	return nil
}

// isLoopback reports whether every address host in addr stands for is a
// loopback address. An empty host means all interfaces.
func isLoopback(ctx context.Context, addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("worker: listen address %q: %w", addr, err)
	}
	if host == "" {
		return false, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("worker: listen address %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}
