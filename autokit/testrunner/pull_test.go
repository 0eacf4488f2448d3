package testrunner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/balena/leviathan-action/internal/testrunnerimage"
)

func TestPullReusesLocalCopy(t *testing.T) {
	cli := engine(t)
	ref := testImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true})

	var progress bytes.Buffer
	res, err := Pull(ctx, cli, ref, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pulled || res.Attempts != 1 || res.ImageID == "" {
		t.Fatalf("first pull: %+v", res)
	}
	if !strings.Contains(progress.String(), "Status: Downloaded newer image") {
		t.Errorf("progress lacks the engine's status:\n%s", progress.String())
	}
	t.Logf("progress:\n%s", progress.String())

	before := fixture.manifests.Load()
	progress.Reset()
	again, err := Pull(ctx, cli, ref, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if again.Pulled || again.ImageID != res.ImageID {
		t.Fatalf("second pull: %+v, want reuse of %s", again, res.ImageID)
	}
	if n := fixture.manifests.Load() - before; n != 0 {
		t.Errorf("second pull asked the registry for %d manifests, want none", n)
	}
	if progress.Len() != 0 {
		t.Errorf("reuse wrote progress: %q", progress.String())
	}
}

func TestPullRejectsTags(t *testing.T) {
	_, err := Pull(context.Background(), fakeImages{}, "127.0.0.1:5000/leviathan/testrunner:latest", nil)
	if err == nil || !strings.Contains(err.Error(), "by digest") {
		t.Fatalf("err %v, want a by-digest error", err)
	}
}

// fakeImages is an ImageEngine holding one image with the given repo
// digests; pulls succeed without doing anything.
type fakeImages struct {
	repoDigests []string
	pulls       *int
}

func (fakeImages) DaemonHost() string { return "unix:///fake.sock" }

func (f fakeImages) ImageInspect(ctx context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{ID: "sha256:fake", RepoDigests: f.repoDigests}, nil
}

func (f fakeImages) ImagePull(ctx context.Context, ref string, _ image.PullOptions) (io.ReadCloser, error) {
	if f.pulls != nil {
		*f.pulls++
	}
	return io.NopCloser(strings.NewReader("")), nil
}

func TestPullDigestMismatchFromInspect(t *testing.T) {
	const want = "127.0.0.1:5000/leviathan/testrunner@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const other = "127.0.0.1:5000/leviathan/testrunner@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	_, err := Pull(context.Background(), fakeImages{repoDigests: []string{other}}, want, nil)
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err %v, want ErrDigestMismatch", err)
	}
	t.Log(err)
	if _, err := Pull(context.Background(), fakeImages{repoDigests: []string{want}}, want, nil); err != nil {
		t.Fatalf("matching digest: %v", err)
	}
}

// TestPullDigestMismatchFromRegistry serves another image's manifest for
// the requested digest: the engine refuses it and Pull says so.
func TestPullDigestMismatchFromRegistry(t *testing.T) {
	cli := engine(t)
	testImage(t)
	prog := filepath.Join(fixture.dir, "prog")
	wantImg, err := progImage(prog, "wanted")
	if err != nil {
		t.Fatal(err)
	}
	otherImg, err := progImage(prog, "served instead")
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := wantImg.Digest()
	otherManifest, _ := otherImg.RawManifest()
	otherType, _ := otherImg.MediaType()
	reg := testrunnerimage.NewRegistry(testrunnerimage.WithMiddleware(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/manifests/"+wantDigest.String()) {
				w.Header().Set("Content-Type", string(otherType))
				w.Header().Set("Docker-Content-Digest", wantDigest.String())
				if r.Method != http.MethodHead {
					w.Write(otherManifest)
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	}))
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := reg.Push(ctx, "leviathan/other", otherImg); err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push(ctx, "leviathan/mismatch", wantImg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true}) })
	res, err := Pull(ctx, cli, ref, nil, WithAttempts(2), WithBackoff(10*time.Millisecond))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err %v (%+v), want ErrDigestMismatch", err, res)
	}
	if res.Attempts != 1 {
		t.Errorf("a digest mismatch was retried: %d attempts", res.Attempts)
	}
	t.Log(err)
}

func TestPullRegistryNotAnswering(t *testing.T) {
	cli := engine(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	ref := host + "/leviathan/testrunner@sha256:3333333333333333333333333333333333333333333333333333333333333333"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Pull(ctx, cli, ref, nil, WithAttempts(3), WithBackoff(10*time.Millisecond))
	if err == nil {
		t.Fatal("pull from a closed port succeeded")
	}
	if res.Attempts != 3 {
		t.Errorf("%d attempts, want 3", res.Attempts)
	}
	if msg := err.Error(); !strings.Contains(msg, "registry "+host+" did not answer after 3 attempts") {
		t.Errorf("error does not name the registry and the attempts: %v", err)
	}
	t.Log(err)
}

func TestEngineUnreachable(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "no-docker.sock")
	cli, err := client.NewClientWithOpts(client.WithHost(sock), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	ref := "127.0.0.1:5000/leviathan/testrunner@sha256:4444444444444444444444444444444444444444444444444444444444444444"
	for name, err := range map[string]error{
		"Pull": func() error { _, err := Pull(ctx, cli, ref, nil); return err }(),
		"Run": func() error {
			_, err := Run(ctx, cli, Spec{Image: ref, RunID: "x", ReportsDir: t.TempDir()})
			return err
		}(),
		"Cleanup": Cleanup(ctx, cli, JobLabels("x", "", "")),
	} {
		if err == nil || !strings.Contains(err.Error(), "docker engine unreachable at "+sock) || !strings.Contains(err.Error(), "DOCKER_HOST") {
			t.Errorf("%s: err %v, want one naming the socket and DOCKER_HOST", name, err)
		}
	}
}

func TestRetryable(t *testing.T) {
	for msg, want := range map[string]bool{
		`Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`: true,
		`Get "https://r/v2/": net/http: TLS handshake timeout`:                            true,
		`received unexpected HTTP status: 503 Service Unavailable`:                        true,
		`manifest for r/x@sha256:00 not found: manifest unknown`:                          false,
		`unauthorized: authentication required`:                                           false,
	} {
		if got := retryable(errors.New(msg)); got != want {
			t.Errorf("retryable(%q) = %v, want %v", msg, got, want)
		}
	}
}
