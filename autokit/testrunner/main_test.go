package testrunner

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/internal/testrunnerimage"
)

// testLabel marks every image the tests make, so a leftover is
// identifiable: docker images --filter label=io.balena.leviathan.test.
const testLabel = "io.balena.leviathan.test"

// fixture is the test image, built once per test binary: a static build of
// testdata/prog in a FROM-scratch image, served by an in-process registry.
var fixture struct {
	once      sync.Once
	err       error
	img       v1.Image
	reg       *testrunnerimage.Registry
	ref       string
	manifests atomic.Int64 // manifest requests the registry answered
	dir       string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.reg != nil {
		if cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err == nil {
			cli.ImageRemove(context.Background(), fixture.ref, image.RemoveOptions{Force: true, PruneChildren: true})
			cli.Close()
		}
		fixture.reg.Close()
	}
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// engine returns a client of the local Docker Engine, or skips the test.
func engine(t *testing.T) *client.Client { return testenv.Docker(t) }

// buildProg compiles testdata/prog statically into dir.
func buildProg(dir string) (string, error) {
	out := filepath.Join(dir, "prog")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/prog")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the test program: %w\n%s", err, b)
	}
	return out, nil
}

// testImage builds, serves and returns the test image's reference by
// digest.
func testImage(t *testing.T) string {
	t.Helper()
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "container-test-")
		if fixture.err != nil {
			return
		}
		prog, err := buildProg(fixture.dir)
		if err != nil {
			fixture.err = err
			return
		}
		fixture.img, fixture.err = progImage(prog, "")
		if fixture.err != nil {
			return
		}
		fixture.reg = testrunnerimage.NewRegistry(testrunnerimage.WithMiddleware(func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/manifests/") {
					fixture.manifests.Add(1)
				}
				h.ServeHTTP(w, r)
			})
		}))
		fixture.ref, fixture.err = fixture.reg.Push(context.Background(), "leviathan/container-test", fixture.img)
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.ref
}

// progImage is the test program in a FROM-scratch image; note makes
// images with otherwise equal contents differ.
func progImage(prog, note string) (v1.Image, error) {
	return testrunnerimage.NewImage([]testrunnerimage.File{
		{Path: "/prog", Mode: 0o755, Source: prog},
		{Path: "/note", Mode: 0o644, Data: []byte(note)},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/reports", Mode: fs.ModeDir | 0o755, UID: testrunnerimage.Nobody, GID: testrunnerimage.Nobody},
		// Writable by nobody: only the read-only root stops a write.
		{Path: "/etc", Mode: fs.ModeDir | 0o755, UID: testrunnerimage.Nobody, GID: testrunnerimage.Nobody},
	}, testrunnerimage.ImageConfig{
		Arch: runtime.GOARCH,
		Config: v1.Config{
			Entrypoint: []string{"/prog"},
			User:       "65534:65534",
			Labels:     map[string]string{testLabel: "container"},
		},
	})
}

// pulled makes the test image present in the engine.
func pulled(t *testing.T, cli *client.Client) string {
	t.Helper()
	ref := testImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := Pull(ctx, cli, ref, nil); err != nil {
		t.Fatal(err)
	}
	return ref
}
