package localrun_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/internal/localrun"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

// TestIsolatedQEMUDUT boots the test OS on an isolated QEMU DUT and has
// it try a service on the host's loopback through its gateway, as an
// image under test could on user networking: refused. Fetching from a
// listener the worker opens for the suite still works, so the failure is
// the isolation, not a missing wget.
func TestIsolatedQEMUDUT(t *testing.T) {
	testenv.NeedQEMU(t)
	if testing.Short() {
		t.Skip("boots a QEMU DUT")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := filepath.Join(testenv.RepoRoot(t), "build")
	m, err := testimage.Build(ctx, testimage.Options{CacheDir: filepath.Join(build, "cache", "debs"),
		OutDir: filepath.Join(build, "testimage"), Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "os.img") // other tests may rebuild the shared one
	testenv.CopyFile(t, m.Image, img)

	// A host service on loopback, as the worker or a local registry.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "host service") }))
	hostPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	local, err := localrun.StartLocal(ctx, localrun.LocalConfig{ParentDir: t.TempDir(), Isolated: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	c, err := client.New(local.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lease(ctx, "isolation test", time.Minute); err != nil {
		t.Fatal(err)
	}
	defer c.Teardown(context.WithoutCancel(ctx))
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if _, err := c.Flash(ctx, f, fi.Size(), m.SHA256, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitOnline(ctx, 5*time.Minute); err != nil {
		t.Fatal(err)
	}

	// (busybox's wget crashes with -T here, so the shell's timeout bounds
	// the attempt: a dropped connection would hang.)
	out, err := c.ExecCombined(ctx, "timeout 10 wget -q -O - http://"+qemukit.GatewayIP+":"+hostPort+"/ 2>&1; echo exit=$?")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "host service") || strings.Contains(out, "exit=0") {
		t.Fatalf("the isolated DUT reached the host's loopback service: %q", out)
	}
	if strings.Contains(out, "exit=139") || strings.Contains(out, "exit=127") {
		t.Fatalf("the probe itself failed, proving nothing: %q", out)
	}
	t.Logf("the DUT's attempt: %q", out)

	// The worker's own ways in still work: a listener for the DUT.
	l, err := c.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go http.Serve(l, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "from the suite") }))
	out, err = c.ExecCombined(ctx, "wget -q -O - http://"+l.DUTAddress()+"/")
	if err != nil || strings.TrimSpace(out) != "from the suite" {
		t.Fatalf("fetching from the suite's listener: %q, %v", out, err)
	}
}
