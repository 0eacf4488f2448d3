// Package artifacttest starts act's implementation of the Actions artifact
// v4 service (tools/cmd/artifact-server, built from the repository's
// separate tools module) for tests of the artifact client and its users.
//
// The server binary is built once per test process with the go command
// (`go build -C <repo>/tools`) into a per-user directory under $TMPDIR and
// replaced atomically, so parallel test processes share one file. Tests
// are skipped when no go command is found; a build failure fails the test.
//
// Limits: act checks neither the runtime token nor block ids (see package
// artifact); each Server serves one workflow run and job.
package artifacttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/balena/leviathan-action/action/artifact"
)

// Server is a running artifact server.
type Server struct {
	// ResultsURL is the value for ACTIONS_RESULTS_URL.
	ResultsURL string
	// RuntimeToken is the value for ACTIONS_RUNTIME_TOKEN.
	RuntimeToken string
	// Dir holds the artifacts, as <Dir>/<RunID>/<name>/<name>.zip.
	Dir string
	// RunID is the workflow run the token is scoped to.
	RunID int64
}

// Config returns the client configuration for the server.
func (s *Server) Config() artifact.Config {
	return artifact.Config{RuntimeToken: s.RuntimeToken, ResultsURL: s.ResultsURL}
}

// Setenv sets ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN for the test.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv(artifact.EnvResultsURL, s.ResultsURL)
	t.Setenv(artifact.EnvRuntimeToken, s.RuntimeToken)
}

// ZipPath returns where the server keeps the archive of artifact name.
func (s *Server) ZipPath(name string) string {
	return filepath.Join(s.Dir, strconv.FormatInt(s.RunID, 10), name, name+".zip")
}

var build struct {
	sync.Mutex
	bin  string
	skip string
	err  error
}

// Binary returns the path of the artifact-server binary, building it on the
// first call of the process.
func Binary(t testing.TB) string {
	t.Helper()
	build.Lock()
	defer build.Unlock()
	if build.bin == "" && build.skip == "" && build.err == nil {
		build.bin, build.skip, build.err = buildServer()
	}
	if build.skip != "" {
		t.Skip("artifacttest: " + build.skip)
	}
	if build.err != nil {
		t.Fatalf("artifacttest: %v", build.err)
	}
	return build.bin
}

func buildServer() (bin, skip string, err error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", "no go command to build tools/cmd/artifact-server: " + err.Error(), nil
	}
	tools, err := toolsDir()
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("leviathan-artifacttest-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	tmp := filepath.Join(dir, fmt.Sprintf("artifact-server.%d.tmp", os.Getpid()))
	cmd := exec.Command(goCmd, "build", "-C", tools, "-o", tmp, "./cmd/artifact-server")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("%s: %w\n%s", cmd, err, out.Bytes())
	}
	bin = filepath.Join(dir, "artifact-server")
	if err := os.Rename(tmp, bin); err != nil {
		return "", "", err
	}
	return bin, "", nil
}

// toolsDir finds <repo>/tools from this source file, or else from the
// working directory upwards.
func toolsDir() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, d := range starts {
		for {
			if _, err := os.Stat(filepath.Join(d, "tools", "go.mod")); err == nil {
				return filepath.Join(d, "tools"), nil
			}
			up := filepath.Dir(d)
			if up == d {
				break
			}
			d = up
		}
	}
	return "", errors.New("no tools/go.mod above the test's package: is this the leviathan-action repository?")
}

// Start builds (once) and starts an artifact server on loopback for the
// test, with a fresh artifact directory. It is stopped at the test's end;
// its log goes to t.Logf.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-dir", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &logWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("artifacttest: %v", err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})

	type ready struct {
		ResultsURL   string `json:"results_url"`
		RuntimeToken string `json:"runtime_token"`
		Dir          string `json:"dir"`
		RunID        int64  `json:"run_id"`
	}
	lines := make(chan []byte, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		if sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		for sc.Scan() {
		}
		cmd.Wait()
	}()
	var r ready
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("artifacttest: %s exited before it listened", cmd)
		}
		if err := json.Unmarshal(line, &r); err != nil || r.ResultsURL == "" {
			t.Fatalf("artifacttest: %s printed %q, want its JSON ready line", cmd, line)
		}
	case <-exited:
		t.Fatalf("artifacttest: %s exited before it listened", cmd)
	case <-time.After(30 * time.Second):
		t.Fatalf("artifacttest: %s printed no ready line in 30 s", cmd)
	}
	return &Server{ResultsURL: r.ResultsURL, RuntimeToken: r.RuntimeToken, Dir: r.Dir, RunID: r.RunID}
}

// logWriter sends the server's stderr to t.Logf, one line at a time.
type logWriter struct {
	t   testing.TB
	mu  sync.Mutex
	buf []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Logf("artifact-server: %s", w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
