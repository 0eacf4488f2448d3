package worker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/worker"
)

// recordingTestrunner stands in for the Docker Engine side: it records
// what the worker asked for and plays a run that prints and reports.
type recordingTestrunner struct {
	mu     sync.Mutex
	runs   []worker.TestrunnerRun
	files  map[string]os.FileMode // user suites seen during the run
	pulled []string
}

func (f *recordingTestrunner) Pull(ctx context.Context, image string, progress io.Writer) error {
	if strings.Contains(image, "missing") {
		return errors.New("manifest unknown")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulled = append(f.pulled, image)
	return nil
}

func (f *recordingTestrunner) Run(ctx context.Context, r worker.TestrunnerRun) (api.TestrunnerResult, error) {
	f.mu.Lock()
	f.runs = append(f.runs, r)
	f.files = map[string]os.FileMode{}
	if r.UserSuitesDir != "" {
		entries, _ := os.ReadDir(r.UserSuitesDir)
		for _, e := range entries {
			fi, _ := e.Info()
			f.files[e.Name()] = fi.Mode()
		}
	}
	f.mu.Unlock()
	io.WriteString(r.Stdout, "suite os\n  ✓ TestBoot (1.00s)\n")
	io.WriteString(r.Stderr, "a warning\n")
	os.MkdirAll(filepath.Join(r.ReportsDir, "tests", "os"), 0o755)
	os.WriteFile(filepath.Join(r.ReportsDir, "junit.xml"), []byte("<testsuites/>"), 0o644)
	os.WriteFile(filepath.Join(r.ReportsDir, "tests", "os", "TestBoot.log"), []byte("ok"), 0o644)
	return api.TestrunnerResult{ExitCode: 1, HostClosed: true, Seconds: 1}, nil
}

const testrunnerImage = "127.0.0.1:5000/leviathan/testrunner@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestTestrunnerThroughTheWorker(t *testing.T) {
	tr := &recordingTestrunner{}
	dir := t.TempDir()
	e := newEnv(t, worker.WithToken("admin"), worker.WithTestrunner(tr, dir, testrunnerImage))
	ctx := ctxT(t, 10*time.Second)
	admin, job, l := e.jobLease(t, "admin")

	bin := []byte("\x7fELF a suite binary")
	if err := job.UploadSuite(ctx, "hup.test", bytes.NewReader(bin), int64(len(bin))); err != nil {
		t.Fatal(err)
	}
	req := api.TestrunnerRequest{Image: testrunnerImage, Suites: []string{"os", "hup.test"}, Run: "TestBoot",
		Env: []string{"BALENA_API_KEY=k"}, RunID: "42", Job: "test"}
	var stdout, stderr bytes.Buffer
	res, err := job.RunTestrunner(ctx, req, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 1 || !res.HostClosed {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(stdout.String(), "✓ TestBoot") || stderr.String() != "a warning\n" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	run := tr.runs[0]
	if run.Lease != l.ID || run.Image != testrunnerImage || run.Run != "TestBoot" || run.RunID != "42" ||
		len(run.Suites) != 2 || run.Suites[0] != (worker.TestrunnerSuite{Name: "os"}) || run.Suites[1] != (worker.TestrunnerSuite{Name: "hup.test", Uploaded: true}) {
		t.Errorf("run %+v", run)
	}
	if m, ok := tr.files["hup.test"]; !ok || m.Perm() != 0o755 || len(tr.files) != 1 {
		t.Errorf("user suites seen by the container: %v", tr.files)
	}

	rc, err := job.TestrunnerReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	tw := tar.NewReader(rc)
	for {
		h, err := tw.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tw)
		names[h.Name] = string(b)
	}
	rc.Close()
	if names["reports/junit.xml"] != "<testsuites/>" || names["reports/tests/os/TestBoot.log"] != "ok" {
		t.Errorf("reports tar: %v", names)
	}

	for _, tc := range []struct {
		name   string
		edit   func(r *api.TestrunnerRequest)
		status int
		want   string
	}{
		{"image not allowed", func(r *api.TestrunnerRequest) { r.Image = "evil/root@sha256:" + strings.Repeat("a", 64) }, http.StatusForbidden, "not one this worker runs"},
		{"not uploaded", func(r *api.TestrunnerRequest) { r.Suites = []string{"cloud.test"} }, http.StatusBadRequest, "was not uploaded"},
		{"path as suite", func(r *api.TestrunnerRequest) { r.Suites = []string{"../../etc/passwd"} }, http.StatusBadRequest, "built-in suite's name"},
		{"no suites", func(r *api.TestrunnerRequest) { r.Suites = nil }, http.StatusBadRequest, "no suites"},
		{"twice", func(r *api.TestrunnerRequest) { r.Suites = []string{"os", "os"} }, http.StatusBadRequest, "twice"},
		{"worker token in env", func(r *api.TestrunnerRequest) { r.Env = []string{"LEVIATHAN_WORKER_TOKEN=x"} }, http.StatusBadRequest, "sets LEVIATHAN_WORKER_URL"},
		{"bad env", func(r *api.TestrunnerRequest) { r.Env = []string{"NOVALUE"} }, http.StatusBadRequest, "NAME=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			tc.edit(&r)
			_, err := job.RunTestrunner(ctx, r, nil, nil)
			wantStatus(t, err, tc.status, tc.want)
		})
	}
	t.Run("bad upload name", func(t *testing.T) {
		wantStatus(t, job.UploadSuite(ctx, "x", strings.NewReader("a"), 1), http.StatusBadRequest, "NAME.test")
		wantStatus(t, job.UploadSuite(ctx, "empty.test", strings.NewReader(""), -1), http.StatusBadRequest, "empty")
	})
	t.Run("pull", func(t *testing.T) {
		other := "127.0.0.1:5000/leviathan/testrunner@sha256:" + strings.Repeat("b", 64)
		wantStatus(t, job.PullTestrunner(ctx, other), http.StatusForbidden, "worker's token")
		wantStatus(t, admin.PullTestrunner(ctx, "127.0.0.1:5000/leviathan/testrunner:latest"), http.StatusBadRequest, "by digest")
		wantStatus(t, admin.PullTestrunner(ctx, "127.0.0.1:5000/missing@sha256:"+strings.Repeat("c", 64)), http.StatusBadGateway, "manifest unknown")
		if err := admin.PullTestrunner(ctx, other); err != nil {
			t.Fatal(err)
		}
		r := req
		r.Image = other
		if _, err := job.RunTestrunner(ctx, r, nil, nil); err != nil {
			t.Fatalf("an image the admin pulled does not run: %v", err)
		}
	})

	// The lease ends: its uploads and reports go with it.
	if err := admin.Release(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the lease's files are left in %s: %v", dir, left)
	}
}

// TestSuiteUploadLimit: a job cannot fill the worker's disk with uploads.
func TestSuiteUploadLimit(t *testing.T) {
	e := newEnv(t, worker.WithTestrunner(&recordingTestrunner{}, t.TempDir(), testrunnerImage), worker.WithSuiteUploadLimit(100))
	c := e.leased(t)
	ctx := ctxT(t, 5*time.Second)
	put := func(name string, n int) error {
		return c.UploadSuite(ctx, name, bytes.NewReader(make([]byte, n)), int64(n))
	}
	if err := put("a.test", 60); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, put("b.test", 60), http.StatusRequestEntityTooLarge, "may upload 100 bytes")
	if err := put("a.test", 90); err != nil {
		t.Fatalf("replacing a suite counts its old size: %v", err)
	}
	if err := put("b.test", 10); err != nil {
		t.Fatalf("what still fits is refused: %v", err)
	}
	wantStatus(t, put("c.test", 1), http.StatusRequestEntityTooLarge, "already take the 100 bytes")
}

func TestNoTestrunner(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	_, err := c.RunTestrunner(ctxT(t, 5*time.Second), api.TestrunnerRequest{Image: testrunnerImage, Suites: []string{"os"}}, nil, nil)
	wantStatus(t, err, http.StatusNotImplemented, "no testrunner container")
}
