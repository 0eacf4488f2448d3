package worker_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/worker"
)

// Serving a DUT: the worker daemon of a testbot.
func Example() {
	var d dut.DUT // from a driver: an AutoKit board or a QemuKit virtual DUT
	if d == nil {
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	w, err := worker.New(d,
		worker.WithToken(os.Getenv("LEVIATHAN_TOKEN")),
		worker.WithLogger(logger),
		worker.WithHostname("dut-01"),
		worker.WithFatalPatterns(`Failed to start .*\.service`),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close(context.Background())
	log.Printf("provision this key into images: %s", w.PublicKey())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := worker.ListenAndServe(ctx, "127.0.0.1:8080", w, logger); err != nil {
		log.Fatal(err)
	}
}
