// Command artifact-server serves act's implementation of the GitHub Actions
// artifact v4 ("results" Twirp) API on a loopback address, for tests and
// benchmarks of the action's artifact client.
//
// It prints one JSON line to stdout once it listens:
//
//	{"url":"http://127.0.0.1:PORT/","results_url":"…","runtime_token":"…","dir":"…","run_id":1,"job_id":1}
//
// results_url and runtime_token are what a client reads from
// ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN. The token is the JWT act
// itself hands to jobs, with the scope claim "Actions.Results:<run>:<job>".
// The server stops on SIGTERM or SIGINT.
//
// Limits: act checks no token and keeps artifacts as <dir>/<run>/<name>/<name>.zip;
// block uploads are appended in arrival order, whatever their block id.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/nektos/act/pkg/artifacts"
	"github.com/nektos/act/pkg/common"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "artifact-server:", err)
		os.Exit(1)
	}
}

// Ready is the line printed to stdout once the server listens.
type Ready struct {
	URL          string `json:"url"`
	ResultsURL   string `json:"results_url"`
	RuntimeToken string `json:"runtime_token"`
	Dir          string `json:"dir"`
	RunID        int64  `json:"run_id"`
	JobID        int64  `json:"job_id"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("artifact-server", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:0", "loopback `host:port` to listen on (port 0 picks a free one)")
	dir := fl.String("dir", "", "`directory` holding the artifacts (required)")
	runID := fl.Int64("run-id", 1, "workflow run id put in the runtime token")
	jobID := fl.Int64("job-id", 1, "job id put in the runtime token")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %s: only loopback addresses are served", *addr)
	}
	// act answers ListArtifacts for a run without a directory by panicking;
	// the run's directory exists from the start so an empty run lists nothing.
	if err := os.MkdirAll(filepath.Join(abs, strconv.FormatInt(*runID, 10)), 0o755); err != nil {
		return err
	}
	token, err := common.CreateAuthorizationToken(*runID, *runID, *jobID)
	if err != nil {
		return fmt.Errorf("runtime token: %w", err)
	}

	router := httprouter.New()
	router.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		fmt.Fprintf(stderr, "artifact-server: %s %s: %v\n", r.Method, r.URL.Path, v)
		http.Error(w, fmt.Sprint(v), http.StatusInternalServerError)
	}
	fsys := osFS{}
	artifacts.RoutesV4(router, abs, fsys, fsys)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	u := "http://" + ln.Addr().String() + "/"
	line, err := json.Marshal(Ready{URL: u, ResultsURL: u, RuntimeToken: token, Dir: abs, RunID: *runID, JobID: *jobID})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", line)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// osFS is act's WriteFS and an fs.FS over absolute paths, as act's own
// server uses.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error) { return os.Open(name) }

func (osFS) OpenWritable(name string) (artifacts.WritableFile, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
}

func (osFS) OpenAppendable(name string) (artifacts.WritableFile, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}
