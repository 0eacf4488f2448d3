package gotest

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/autokit/worker"
)

// TestRunOnWorkerWithSDK runs a suite written with the SDK, under a lease
// it holds, against a real worker whose DUT is the fake one (an in-process
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
	admin, _ := client.New(srv.URL)
	held, ctx, err := admin.Hold(ctx, "gotest test", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(ctx, Options{
		Suites: []Suite{s}, ReportDir: reports, Out: &live,
		Env:    []string{api.EnvWorkerURL + "=" + srv.URL, api.EnvLease + "=" + held.Lease.ID},
		Serial: held.Client.SerialLog,
	})
	if rerr := held.Release(ctx); rerr != nil {
		t.Error(rerr)
	}
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
	if h, err := admin.Health(t.Context()); err != nil || h.Leased {
		t.Fatalf("after the run the DUT is still leased: %+v %v", h, err)
	}
}
