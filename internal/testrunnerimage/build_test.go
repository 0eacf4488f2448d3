package testrunnerimage

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestBuildReproducible builds the real image twice from this checkout:
// the digests match, the binaries are static and the config is locked down.
func TestBuildReproducible(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no Go toolchain on PATH")
	}
	if testing.Short() {
		t.Skip("compiles the testrunner and the os suite")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	opts := Options{RepoRoot: "../..", Revision: "test"}
	a, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds of the same tree differ: %s %s", da, db)
	}
	checkImage(t, a)
	cf, err := a.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != EntrypointPath {
		t.Errorf("entrypoint %q", c.Entrypoint)
	}
	if c.User != "65534:65534" {
		t.Errorf("user %q, want nobody", c.User)
	}
	if got := c.Labels["org.opencontainers.image.source"]; got != Source {
		t.Errorf("source label %q", got)
	}
	if got := c.Labels["org.opencontainers.image.revision"]; got != "test" {
		t.Errorf("revision label %q", got)
	}
	if cf.Created.Unix() != 0 {
		t.Errorf("created %v, want Unix 0", cf.Created)
	}
	wantCmd := []string{"--reports", ReportsDir, "/suites/os.test"}
	if len(c.Cmd) != len(wantCmd) || c.Cmd[2] != wantCmd[2] {
		t.Errorf("cmd %q, want %q", c.Cmd, wantCmd)
	}
	es := entries(t, a)
	for _, p := range []string{"testrunner", "test2json", "suites/os.test", "tmp/", "reports/"} {
		if _, ok := es[p]; !ok {
			t.Errorf("image lacks /%s", p)
		}
	}
	t.Logf("testrunner image %s", da)
}

func TestBuildRejectsNonSuite(t *testing.T) {
	_, err := Build(context.Background(), Options{RepoRoot: "../..", Suites: []string{"./internal/testrunnerimage/testdata/notests"}})
	if err == nil {
		t.Fatal("a package without tests was accepted as a suite")
	}
	t.Log(err)
}
