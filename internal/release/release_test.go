package release_test

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/internal/release"
)

func TestSumsRoundTrip(t *testing.T) {
	as := []release.Asset{
		{Name: "a_linux_amd64", SHA256: strings.Repeat("0a", 32)},
		{Name: "SHA-ish.tar", SHA256: strings.Repeat("f1", 32)},
	}
	b := release.FormatSums(as)
	want := strings.Repeat("0a", 32) + "  a_linux_amd64\n" + strings.Repeat("f1", 32) + "  SHA-ish.tar\n"
	if string(b) != want {
		t.Fatalf("FormatSums:\n%s\nwant:\n%s", b, want)
	}
	got, err := release.ParseSums(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != as[0] || got[1] != as[1] {
		t.Errorf("ParseSums = %v, want %v", got, as)
	}
	// sha256sum -b writes "<hex> *<name>"; that is the same file.
	got, err = release.ParseSums(strings.NewReader(strings.Repeat("0a", 32) + " *a_linux_amd64\n"))
	if err != nil || len(got) != 1 || got[0] != as[0] {
		t.Errorf("binary-mode line: %v, %v", got, err)
	}
}

func TestParseSumsRejects(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, tc := range []struct{ name, in, want string }{
		{"short sum", "abc  x\n", "line 1"},
		{"upper case", strings.ToUpper(hex) + "  x\n", "lowercase hex"},
		{"one space", hex + " x\n", "line 1"},
		{"path", hex + "  ../x\n", "line 1"},
		{"subdirectory", hex + "  dir/x\n", "line 1"},
		{"no name", hex + "  \n", "line 1"},
		{"twice", hex + "  x\n" + hex + "  x\n", "line 2 lists x a second time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := release.ParseSums(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseSums(%q) = %v, want an error with %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", "alpha")
	write("b", "beta")
	// The sum of "alpha"; the one of b is wrong.
	sums := "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8  a\n" +
		"f44e64e73b0ba8ac8d8a3b18a1d3ed6a1d1fa1f6f88e1ba2ff1e4c1a29b7c2b9  b\n"
	write(release.SumsFile, sums)
	_, err := release.Verify(dir)
	if err == nil || !strings.Contains(err.Error(), "b has SHA-256 ") {
		t.Fatalf("Verify with a wrong sum for b: %v", err)
	}
	write(release.SumsFile, sums[:strings.Index(sums, "\n")+1]+strings.Repeat("00", 32)+"  missing\n")
	if _, err := release.Verify(dir); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Verify with a missing file: %v", err)
	}
	write(release.SumsFile, sums[:strings.Index(sums, "\n")+1])
	as, err := release.Verify(dir)
	if err != nil || len(as) != 1 {
		t.Fatalf("Verify = %v, %v", as, err)
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{"v1.2.3": true, "v10.0.12": true, "1.2.3": false, "v1.2": false, "v1.2.3-rc1": false, "v1": false} {
		if err := release.CheckVersion(v); (err == nil) != ok {
			t.Errorf("CheckVersion(%q) = %v", v, err)
		}
	}
	_, err := release.Build(context.Background(), release.Options{Out: t.TempDir(), Version: "1.0"})
	if err == nil || !strings.Contains(err.Error(), `"1.0" is not vMAJOR.MINOR.PATCH`) {
		t.Errorf("Build with version 1.0: %v", err)
	}
}

// TestBuildReproducible builds the real assets twice into two directories:
// every file is byte-identical, SHA256SUMS matches the files, the image
// index's digest is the same, and the binaries are static Linux ELF files
// of their architecture.
func TestBuildReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 8 binaries and 2 testrunner images twice")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no Go toolchain on PATH:", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var res [2]release.Result
	var dirs [2]string
	for i := range dirs {
		dirs[i] = t.TempDir()
		r, err := release.Build(ctx, release.Options{RepoRoot: "../..", Out: dirs[i], Version: "v0.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		res[i] = r
	}
	if res[0].ImageDigest == "" || res[0].ImageDigest != res[1].ImageDigest {
		t.Errorf("image digests %q and %q; want the same, not empty", res[0].ImageDigest, res[1].ImageDigest)
	}
	want := []string{release.ImageArchive, release.ImageDigestFile}
	for _, a := range release.Arches {
		for _, c := range release.Commands {
			want = append(want, release.BinaryName(c, a))
		}
	}
	if len(res[0].Assets) != len(want) {
		t.Errorf("%d assets %v, want %d: %v", len(res[0].Assets), res[0].Assets, len(want), want)
	}
	for _, n := range append(want, release.SumsFile) {
		a, err := os.ReadFile(filepath.Join(dirs[0], n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dirs[1], n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds of the same tree (%d and %d bytes)", n, len(a), len(b))
		}
	}
	as, err := release.Verify(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != len(want) {
		t.Errorf("SHA256SUMS lists %d files, want %d", len(as), len(want))
	}
	digest, _ := os.ReadFile(filepath.Join(dirs[0], release.ImageDigestFile))
	if got := strings.TrimSpace(string(digest)); got != res[0].ImageDigest {
		t.Errorf("%s holds %q, Build returned %q", release.ImageDigestFile, got, res[0].ImageDigest)
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, a := range release.Arches {
		for _, c := range release.Commands {
			checkStatic(t, filepath.Join(dirs[0], release.BinaryName(c, a)), machine[a])
		}
	}
	idx, err := release.ReadImageArchive(filepath.Join(dirs[0], release.ImageArchive), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != len(release.Arches) {
		t.Fatalf("index lists %d images, want %d", len(m.Manifests), len(release.Arches))
	}
	for i, d := range m.Manifests {
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != release.Arches[i] {
			t.Errorf("index entry %d: platform %+v, want linux/%s", i, d.Platform, release.Arches[i])
		}
	}
	t.Logf("assets:\n%s\nimage %s", release.FormatSums(as), res[0].ImageDigest)
}

// checkStatic fails unless path is an ELF executable for m without an
// interpreter (statically linked).
func checkStatic(t *testing.T, path string, m elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != m {
		t.Errorf("%s is for %v, want %v", filepath.Base(path), f.Machine, m)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic loader; want a static binary", filepath.Base(path))
		}
	}
}
