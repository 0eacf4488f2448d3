package artifact_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
)

func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b[:n/2]) // half noise, half zeros
	return b
}

// sleeps records the waits between retries instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func newClient(t *testing.T, cfg artifact.Config, opts ...artifact.Option) *artifact.Client {
	t.Helper()
	c, err := artifact.New(cfg, append([]artifact.Option{artifact.WithBlockSize(64 << 10)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUploadDownloadRoundTrip(t *testing.T) {
	srv := artifacttest.Start(t)
	ctx := t.Context()
	img := payload(300<<10 + 17)
	log := []byte(strings.Repeat("boot ok\n", 1000))
	var last atomic.Int64
	c := newClient(t, srv.Config(), artifact.WithProgress(func(n int64) { last.Store(n) }))

	a, err := c.Upload(ctx, "image",
		artifact.File{Name: "disk.img.zst", Reader: bytes.NewReader(img)},
		artifact.File{Name: "logs/boot.log", Compress: true, Write: func(w io.Writer) error {
			_, err := w.Write(log)
			return err
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.Name != "image" || a.Size == 0 || last.Load() != a.Size {
		t.Errorf("Upload = %+v, last progress %d", a, last.Load())
	}

	// What the server stored is a standard zip with the uploaded digest.
	stored, err := os.ReadFile(srv.ZipPath("image"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(stored); "sha256:"+hex.EncodeToString(sum[:]) != a.Digest || int64(len(stored)) != a.Size {
		t.Errorf("stored %d bytes, digest differs from %s (%d bytes)", len(stored), a.Digest, a.Size)
	}
	zr, err := zip.NewReader(bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		t.Fatalf("stored archive: %v", err)
	}
	if len(zr.File) != 2 || zr.File[0].Name != "disk.img.zst" || zr.File[1].Name != "logs/boot.log" {
		t.Errorf("members %v", zr.File)
	}
	if zr.File[1].CompressedSize64 >= uint64(len(log))/10 {
		t.Errorf("Compress member: %d bytes for %d", zr.File[1].CompressedSize64, len(log))
	}

	found, err := c.Find(ctx, "image")
	if err != nil || found.ID != a.ID {
		t.Fatalf("Find = %+v, %v; want id %d", found, err, a.ID)
	}
	for member, want := range map[string][]byte{"": img, "disk.img.zst": img, "logs/boot.log": log} {
		var got bytes.Buffer
		n, err := c.Extract(ctx, "image", member, &got)
		if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("Extract(%q) = %d, %v; content equal: %t", member, n, err, bytes.Equal(got.Bytes(), want))
		}
	}
	var whole bytes.Buffer
	if _, n, err := c.Download(ctx, "image", &whole); err != nil || !bytes.Equal(whole.Bytes(), stored) {
		t.Errorf("Download = %d, %v; equal to stored: %t", n, err, bytes.Equal(whole.Bytes(), stored))
	}
	_, err = c.Extract(ctx, "image", "nope", io.Discard)
	if !errors.Is(err, artifact.ErrNoMember) || !strings.Contains(err.Error(), "logs/boot.log") {
		t.Errorf("Extract(nope) = %v, want ErrNoMember listing the members", err)
	}
}

func TestMissingArtifact(t *testing.T) {
	srv := artifacttest.Start(t)
	c := newClient(t, srv.Config())
	_, err := c.Extract(t.Context(), "no-such-image", "", io.Discard)
	if !errors.Is(err, artifact.ErrNotFound) || !strings.Contains(err.Error(), `"no-such-image"`) ||
		!strings.Contains(err.Error(), "workflow run 1") {
		t.Errorf("err = %v, want ErrNotFound naming the artifact and the run", err)
	}
}

// proxy fronts the real server; fail decides, per request, a status to
// answer instead of forwarding (0 forwards). act builds signed URLs from the
// request's Host, so uploads and downloads go through the proxy too.
func proxy(t *testing.T, srv *artifacttest.Server, fail func(r *http.Request) int) artifact.Config {
	t.Helper()
	target, err := url.Parse(srv.ResultsURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := fail(r); code != 0 {
			io.Copy(io.Discard, r.Body)
			http.Error(w, "injected by the test", code)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	return artifact.Config{RuntimeToken: srv.RuntimeToken, ResultsURL: ps.URL}
}

func isBlock(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Query().Get("comp") == "block"
}

func TestUploadRetriesABlock(t *testing.T) {
	srv := artifacttest.Start(t)
	var puts atomic.Int32
	cfg := proxy(t, srv, func(r *http.Request) int {
		if isBlock(r) {
			if r.URL.Query().Get("blockid") == "" {
				t.Errorf("Put Block without blockid: %s", r.URL)
			}
			if puts.Add(1) == 1 {
				return http.StatusServiceUnavailable
			}
		}
		return 0
	})
	var s sleeps
	c := newClient(t, cfg, artifact.WithSleep(s.sleep))
	data := payload(200 << 10)
	a, err := c.Upload(t.Context(), "retried", artifact.File{Name: "f", Reader: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.d) != 1 || s.d[0] != artifact.DefaultRetry.Base {
		t.Errorf("waits %v, want one of %v", s.d, artifact.DefaultRetry.Base)
	}
	var got bytes.Buffer
	if _, err := newClient(t, srv.Config()).Extract(t.Context(), a.Name, "f", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Errorf("after a retried block: %v; content equal: %t", err, bytes.Equal(got.Bytes(), data))
	}
}

func TestUploadGivesUp(t *testing.T) {
	srv := artifacttest.Start(t)
	cfg := proxy(t, srv, func(r *http.Request) int {
		if isBlock(r) {
			return http.StatusBadGateway
		}
		return 0
	})
	var s sleeps
	c := newClient(t, cfg, artifact.WithSleep(s.sleep), artifact.WithRetry(artifact.Retry{Attempts: 4, Base: time.Second, Max: 3 * time.Second}))
	_, err := c.Upload(t.Context(), "doomed", artifact.File{Name: "f", Reader: bytes.NewReader(payload(1 << 20))})
	var he *artifact.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusBadGateway || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Errorf("err = %v, want a 502 HTTPError after 4 attempts", err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !equalDurations(s.d, want) {
		t.Errorf("waits %v, want %v", s.d, want)
	}
	if strings.Contains(err.Error(), "sig=") {
		t.Errorf("error leaks the signed URL's signature: %v", err)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnauthorizedNamesTheToken(t *testing.T) {
	srv := artifacttest.Start(t)
	cfg := proxy(t, srv, func(r *http.Request) int {
		if strings.HasSuffix(r.URL.Path, "/CreateArtifact") {
			return http.StatusUnauthorized
		}
		return 0
	})
	var s sleeps
	_, err := newClient(t, cfg, artifact.WithSleep(s.sleep)).Upload(t.Context(), "x", artifact.File{Name: "f", Reader: strings.NewReader("x")})
	if !errors.Is(err, artifact.ErrUnauthorized) || !strings.Contains(err.Error(), "ACTIONS_RUNTIME_TOKEN") || len(s.d) != 0 {
		t.Errorf("err = %v after %d retries, want ErrUnauthorized naming ACTIONS_RUNTIME_TOKEN, no retry", err, len(s.d))
	}
}

func TestExpiredDownload(t *testing.T) {
	srv := artifacttest.Start(t)
	c := newClient(t, srv.Config())
	if _, err := c.Upload(t.Context(), "old", artifact.File{Name: "f", Reader: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	cfg := proxy(t, srv, func(r *http.Request) int {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/DownloadArtifact") {
			return http.StatusGone
		}
		return 0
	})
	_, err := newClient(t, cfg).Extract(t.Context(), "old", "", io.Discard)
	if !errors.Is(err, artifact.ErrExpired) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("err = %v, want ErrExpired", err)
	}
}

func TestConfigFromEnvNamesMissingVariables(t *testing.T) {
	t.Setenv(artifact.EnvRuntimeToken, "")
	t.Setenv(artifact.EnvResultsURL, "")
	_, err := artifact.NewFromEnv()
	if err == nil || !strings.Contains(err.Error(), "ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL") {
		t.Errorf("both missing: %v", err)
	}
	t.Setenv(artifact.EnvResultsURL, "http://127.0.0.1:1/")
	if _, err := artifact.NewFromEnv(); err == nil || !strings.Contains(err.Error(), "ACTIONS_RUNTIME_TOKEN") || strings.Contains(err.Error(), "ACTIONS_RESULTS_URL") {
		t.Errorf("token missing: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	// A JWT whose payload is {"scp":"Actions.Results:r:j"}.
	good := "e30.eyJzY3AiOiJBY3Rpb25zLlJlc3VsdHM6cjpqIn0.sig"
	for _, tc := range []struct {
		cfg  artifact.Config
		want string
	}{
		{artifact.Config{RuntimeToken: "not-a-jwt", ResultsURL: "http://x/"}, "ACTIONS_RUNTIME_TOKEN is not a runtime token"},
		{artifact.Config{RuntimeToken: "e30.e30.sig", ResultsURL: "http://x/"}, "no Actions.Results"},
		{artifact.Config{RuntimeToken: good, ResultsURL: "ftp://x/"}, "ACTIONS_RESULTS_URL"},
		{artifact.Config{RuntimeToken: good, ResultsURL: ""}, "ACTIONS_RESULTS_URL"},
	} {
		if _, err := artifact.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c, err := artifact.New(artifact.Config{RuntimeToken: good, ResultsURL: "https://results.example/x"})
	if err != nil || c.BackendIDs() != (artifact.BackendIDs{Run: "r", Job: "j"}) {
		t.Errorf("New(good) = %v, %v", c, err)
	}
}
