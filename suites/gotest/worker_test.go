package gotest

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/autokit/worker"
)

// TestRunOnWorkerWithSDK runs a suite written with the SDK through the
// runner against a real worker whose DUT is the fake one (an in-process
// SSH server runs the commands): SDK, client, worker and runner together,
// without QEMU.
func TestRunOnWorkerWithSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	signer, _, err := provision.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	sshd := duttest.StartSSHServer(t, signer.PublicKey())
	d := duttest.New(t)
	d.SetSSH(sshd.Addr())
	d.Print("fake boot 1\n")
	w, err := worker.New(d, worker.WithSigner(signer))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	defer w.Close(context.Background())

	s, err := Build(t.Context(), "testdata/sdkfixture", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	var live strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	sum, err := RunOnWorker(ctx, Worker{URL: srv.URL, Owner: "runner test"}, Options{Suites: []Suite{s}, ReportDir: reports, Out: &live})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(live.String())
	if sum.Passed != 2 || sum.Skipped != 1 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(live.String(), "has no relay capability") {
		t.Error("the skip reason is not shown")
	}
	if _, err := os.Stat(filepath.Join(reports, "tests", "sdkfixture", "TestConsoleExpect.serial.log")); err != nil {
		t.Errorf("no console excerpt for TestConsoleExpect: %v", err)
	}
	// The lease taken for the run is released afterwards.
	c, _ := client.New(srv.URL)
	if h, err := c.Health(t.Context()); err != nil || h.Leased {
		t.Fatalf("after the run the DUT is still leased: %+v %v", h, err)
	}
}
