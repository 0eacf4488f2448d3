package bundle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/balena/leviathan-action/suites/bundle"
)

func TestNormPath(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"tests/suites/hup", "tests/suites/hup", ""},
		{"./tests/suites/hup/", "tests/suites/hup", ""},
		{" tests//suites/./hup ", "tests/suites/hup", ""},
		{`tests\suites\hup`, "tests/suites/hup", ""},
		{"tests/../hup", "hup", ""},
		{"", "", "empty"},
		{".", "", "inside the workspace"},
		{"../other/hup", "", "inside the workspace"},
		{"tests/../../hup", "", "inside the workspace"},
		{"/abs/hup", "", "absolute"},
	} {
		got, err := bundle.NormPath(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormPath(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

const sum1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func entry(path, arch string) bundle.Entry {
	return bundle.Entry{Name: filepath.Base(path), Path: path, GOARCH: arch, SHA256: sum1, Size: 10, GoVersion: "go1.26.0", Commit: "abc"}
}

func manifestJSON(t *testing.T, edit func(*bundle.Manifest)) []byte {
	t.Helper()
	m := &bundle.Manifest{Version: bundle.Version, Image: "balena.img.zst",
		Suites: []bundle.Entry{entry("tests/suites/hup", "amd64"), entry("tests/suites/hup", "arm64")}}
	if edit != nil {
		edit(m)
	}
	return m.Marshal()
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string // "" for a valid manifest
	}{
		{"valid", manifestJSON(t, nil), ""},
		{"no suites", []byte(`{"version":1,"suites":[]}`), ""},
		{"bad JSON", []byte(`{"version":1,"suites":[`), "is not a manifest"},
		{"not an object", []byte(`[1,2]`), "is not a manifest"},
		{"other version", []byte(`{"version":2,"suites":[]}`), "version 2"},
		{"no version", []byte(`{"suites":[]}`), "version 0"},
		{"unknown arch", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[1].GOARCH = "sparc" }), `GOARCH "sparc"`},
		{"darwin arch", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[1].GOARCH = "" }), `GOARCH ""`},
		{"bad sha", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].SHA256 = "XYZ" }), "not 64 lower-case hex"},
		{"upper-case sha", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].SHA256 = strings.ToUpper(sum1) }), "not 64 lower-case hex"},
		{"empty binary", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].Size = 0 }), "size 0"},
		{"path not normalised", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].Path = "./tests/suites/hup" }), "not normalised"},
		{"absolute path", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].Path = "/tests/suites/hup" }), "absolute"},
		{"escaping path", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].Path = "../hup" }), "inside the workspace"},
		{"name is not the base", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].Name = "os" }), `name "os"`},
		{"name with a slash", manifestJSON(t, func(m *bundle.Manifest) { m.Suites[0].Name = "suites/hup" }), "not the base name"},
		{"listed twice", manifestJSON(t, func(m *bundle.Manifest) { m.Suites = append(m.Suites, m.Suites[0]) }), "listed twice"},
		{"duplicate names", manifestJSON(t, func(m *bundle.Manifest) {
			m.Suites = append(m.Suites, entry("other/hup", "amd64"))
		}), `share the name "hup"`},
		{"image among the suites", manifestJSON(t, func(m *bundle.Manifest) { m.Image = "suites/balena.img" }), "image member"},
		{"image escapes", manifestJSON(t, func(m *bundle.Manifest) { m.Image = "../balena.img" }), "image member"},
		{"too large", append([]byte(`{"version":1,"suites":[]}`), bytes.Repeat([]byte(" "), 1<<20)...), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := bundle.Parse(tc.b)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %+v, %v; want an error with %q", m, err, tc.want)
			}
		})
	}
}

func TestManifestFind(t *testing.T) {
	m, err := bundle.Parse(manifestJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.Find("tests/suites/hup", "arm64"); !ok || e.GOARCH != "arm64" || e.Member() != "suites/hup.arm64.test" {
		t.Errorf("Find = %+v, %v", e, ok)
	}
	if _, ok := m.Find("tests/suites/hup", "riscv64"); ok {
		t.Error("found a suite for an architecture the manifest does not list")
	}
	if got := m.ArchesOf("tests/suites/hup"); strings.Join(got, ",") != "amd64,arm64" {
		t.Errorf("ArchesOf = %v", got)
	}
}

// compiled is testdata/suites/tiny compiled once for this machine's GOARCH.
var compiled struct {
	sync.Once
	bins []bundle.Binary
	err  error
}

func tiny(t *testing.T) bundle.Binary {
	t.Helper()
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	compiled.Do(func() {
		dir, err := os.MkdirTemp("", "bundle-test-")
		if err != nil {
			compiled.err = err
			return
		}
		compiled.bins, compiled.err = bundle.Compile(context.Background(), bundle.CompileOptions{
			Workspace: "testdata", Suites: []string{"./suites/tiny/"}, Arches: []string{runtime.GOARCH},
			Commit: "abc123", OutDir: dir,
		})
	})
	if compiled.err != nil {
		t.Fatal(compiled.err)
	}
	return compiled.bins[0]
}

func TestCompile(t *testing.T) {
	b := tiny(t)
	if b.Name != "tiny" || b.Path != "suites/tiny" || b.GOARCH != runtime.GOARCH || b.Commit != "abc123" ||
		b.Size <= 0 || len(b.SHA256) != 64 || !strings.HasPrefix(b.GoVersion, "go1.") {
		t.Errorf("binary %+v", b)
	}
	if err := bundle.CheckBinary(b.File, runtime.GOARCH); err != nil {
		t.Errorf("the compiled suite is not a static linux/%s binary: %v", runtime.GOARCH, err)
	}
	m := bundle.NewManifest("balena.img.zst", []bundle.Binary{b})
	back, err := bundle.Parse(m.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := back.Find("suites/tiny", runtime.GOARCH); !ok || e != b.Entry || back.Image != "balena.img.zst" {
		t.Errorf("manifest round trip: %+v", back)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		suites []string
		arches []string
		want   []string
	}{
		{"missing", []string{"suites/nosuch"}, nil, []string{"suite suites/nosuch", "no such file"}},
		{"not a package", []string{"suites/notests"}, nil, []string{"suite suites/notests", "not a Go test package"}},
		{"outside", []string{"../bundle"}, nil, []string{"inside the workspace"}},
		{"absolute", []string{"/etc"}, nil, []string{"absolute"}},
		{"same name", []string{"suites/tiny", "other/tiny"}, nil, []string{"no such file"}},
		{"unknown arch", []string{"suites/tiny"}, []string{"amd64", "sparc"}, []string{`GOARCH "sparc"`}},
		{"arch twice", []string{"suites/tiny"}, []string{"arm64", "arm64"}, []string{"given twice"}},
		{"does not compile", []string{"suites/tiny", "suites/broken"}, []string{runtime.GOARCH},
			[]string{"suite suites/broken does not compile for linux/" + runtime.GOARCH, "undefined: undefinedHelper"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "does not compile" && testing.Short() {
				t.Skip("compiles a suite; skipped with -short")
			}
			out := t.TempDir()
			arches := tc.arches
			if arches == nil {
				arches = []string{runtime.GOARCH}
			}
			bins, err := bundle.Compile(t.Context(), bundle.CompileOptions{Workspace: "testdata", Suites: tc.suites, Arches: arches, OutDir: out})
			if err == nil {
				t.Fatalf("Compile = %+v; want an error", bins)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestCompileSameNameRefused(t *testing.T) {
	ws := t.TempDir()
	for _, d := range []string{"a/hup", "b/hup"} {
		os.MkdirAll(filepath.Join(ws, d), 0o755)
		os.WriteFile(filepath.Join(ws, d, "hup_test.go"), []byte("package hup\n"), 0o644)
	}
	_, err := bundle.Compile(t.Context(), bundle.CompileOptions{Workspace: ws, Suites: []string{"a/hup", "./b/hup"}, OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `suites a/hup and b/hup share the name "hup"`) {
		t.Fatalf("err = %v; want the shared name refused", err)
	}
}

// member is one member of an artifact, as a walk gives it.
type member struct {
	name string
	data []byte
}

// unpack feeds members to an Unpacker as artifact.Client.Walk does.
func unpack(t *testing.T, arch string, want []string, members []member) (*bundle.Unpacker, string, error) {
	t.Helper()
	dir := t.TempDir()
	u := bundle.NewUnpacker(dir, arch, want)
	for _, m := range members {
		more, err := u.Member(m.name, bytes.NewReader(m.data))
		if err != nil {
			return u, dir, err
		}
		if !more {
			break
		}
	}
	return u, dir, u.Check()
}

func TestUnpack(t *testing.T) {
	b := tiny(t)
	bin, err := os.ReadFile(b.File)
	if err != nil {
		t.Fatal(err)
	}
	arch := runtime.GOARCH
	other := "arm64"
	if arch == other {
		other = "amd64"
	}
	good := func() *bundle.Manifest {
		m := bundle.NewManifest("balena.img.zst", []bundle.Binary{b})
		o := b.Entry
		o.GOARCH = other
		m.Suites = append(m.Suites, o)
		return m
	}
	mj := func(edit func(m *bundle.Manifest)) []byte {
		m := good()
		if edit != nil {
			edit(m)
		}
		b, _ := json.Marshal(m)
		return b
	}
	image := member{"balena.img.zst", []byte("not read")}
	own := "suites/tiny." + arch + ".test"
	foreign := "suites/tiny." + other + ".test"

	t.Run("valid", func(t *testing.T) {
		u, dir, err := unpack(t, arch, []string{"suites/tiny"}, []member{
			{bundle.ManifestMember, mj(nil)}, {own, bin}, {foreign, []byte("another arch's binary: skipped")}, image,
			{"after/the-image", nil},
		})
		if err != nil {
			t.Fatal(err)
		}
		p, ok := u.Binary("suites/tiny")
		if !ok || p != filepath.Join(dir, "tiny.test") {
			t.Fatalf("Binary = %q, %v", p, ok)
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("binary mode %v, %v; want 0755 (the container's user is nobody)", fi.Mode(), err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, bin) {
			t.Error("the kept binary differs")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("the directory holds %d files, want the one wanted", len(entries))
		}
		if m := u.Manifest(); m == nil || m.Image != "balena.img.zst" {
			t.Errorf("manifest %+v", m)
		}
	})
	t.Run("nothing wanted", func(t *testing.T) {
		u, dir, err := unpack(t, arch, nil, []member{{bundle.ManifestMember, mj(nil)}, {own, bin}, image})
		if err != nil || u.Manifest() == nil {
			t.Fatalf("%v, manifest %v", err, u.Manifest())
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("kept %d files though no suite was wanted", len(entries))
		}
	})
	t.Run("no bundle", func(t *testing.T) {
		u, _, err := unpack(t, arch, []string{"suites/tiny"}, []member{{"image/balena.img", nil}, {bundle.ManifestMember, mj(nil)}})
		if err != nil || u.Manifest() != nil {
			t.Fatalf("an artifact without a bundle: %v, manifest %v", err, u.Manifest())
		}
		if _, ok := u.Binary("suites/tiny"); ok {
			t.Error("a binary from after the image was kept")
		}
	})

	for _, tc := range []struct {
		name    string
		members []member
		want    string
		is      error
	}{
		{"bad JSON", []member{{bundle.ManifestMember, []byte("{")}}, "is not a manifest", nil},
		{"unknown arch", []member{{bundle.ManifestMember, mj(func(m *bundle.Manifest) { m.Suites[1].GOARCH = "vax" })}}, `GOARCH "vax"`, nil},
		{"SHA mismatch", []member{{bundle.ManifestMember, mj(func(m *bundle.Manifest) { m.Suites[0].SHA256 = sum1 })}, {own, bin}},
			"SHA-256 " + b.SHA256 + ", the manifest says " + sum1, bundle.ErrMismatch},
		{"shorter", []member{{bundle.ManifestMember, mj(nil)}, {own, bin[:len(bin)-1]}}, "the manifest says", bundle.ErrMismatch},
		{"longer", []member{{bundle.ManifestMember, mj(nil)}, {own, append(bin[:len(bin):len(bin)], 0)}}, "larger than", bundle.ErrMismatch},
		{"wrong arch", []member{{bundle.ManifestMember, mj(nil)}, {foreign, bin}},
			// On an other-arch testbot: the manifest's other-arch entry
			// has this binary's SHA-256, so only the architecture is wrong.
			"built for linux/" + arch + ", not linux/" + other, bundle.ErrMismatch},
		{"missing binary", []member{{bundle.ManifestMember, mj(nil)}, {foreign, []byte("x")}, image},
			"lists suite suites/tiny for " + arch + ", but the artifact has no member " + own, nil},
		{"binary before the manifest", []member{{own, bin}, {bundle.ManifestMember, mj(nil)}}, "comes before", nil},
		{"unlisted member", []member{{bundle.ManifestMember, mj(nil)}, {"suites/evil." + arch + ".test", bin}}, "is not in", nil},
		{"manifest twice", []member{{bundle.ManifestMember, mj(nil)}, {bundle.ManifestMember, mj(nil)}}, "twice", nil},
		{"binary twice", []member{{bundle.ManifestMember, mj(nil)}, {own, bin}, {own, bin}}, "twice", nil},
		{"not a Go binary", []member{{bundle.ManifestMember, mj(func(m *bundle.Manifest) {
			m.Suites[0].SHA256, m.Suites[0].Size = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", 5 // "hello"
		})}, {own, []byte("hello")}}, "not a Go binary", bundle.ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testbot := arch
			if tc.name == "wrong arch" {
				testbot = other
			}
			u, dir, err := unpack(t, testbot, []string{"suites/tiny"}, tc.members)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want one with %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v; want it to match %v", err, tc.is)
			}
			if tc.name == "binary twice" {
				return // the first copy was good
			}
			if _, ok := u.Binary("suites/tiny"); ok {
				t.Error("a binary was kept despite the error")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%d files left in the directory after the error", len(entries))
			}
		})
	}
}
