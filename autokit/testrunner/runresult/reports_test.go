package runresult

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tarOf(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			body = "data of " + h.Name
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestExtractReportsStaysInside(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "out")
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := tarOf(t,
		tar.Header{Name: "reports/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "reports/junit.xml", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "reports/tests/os/TestA.log", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "reports/../../outside/escaped", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "/etc/abs", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "reports/link", Typeflag: tar.TypeSymlink, Linkname: outside},
		tar.Header{Name: "reports/link/through", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "reports/hard", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"},
	)
	if err := ExtractReports(bytes.NewReader(archive), dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "junit.xml")); err != nil || string(b) != "data of reports/junit.xml" {
		t.Errorf("junit.xml: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tests", "os", "TestA.log")); err != nil {
		t.Error(err)
	}
	if es, _ := os.ReadDir(outside); len(es) != 0 {
		t.Errorf("files escaped into %s: %v", outside, es)
	}
	for _, p := range []string{"link", "hard"} {
		// link exists as a plain directory, made for link/through.
		if fi, err := os.Lstat(filepath.Join(dir, p)); err == nil && (fi.Mode()&os.ModeSymlink != 0 || fi.Mode().IsRegular()) {
			t.Errorf("link %s was extracted as %v", p, fi.Mode())
		}
	}
}

func FuzzReportPath(f *testing.F) {
	for _, s := range []string{"reports/junit.xml", "reports/../../x", "/abs", "reports", "a/b/../../../c", "reports//x/./y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		rel, ok := reportPath(name)
		if !ok {
			return
		}
		if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") {
			t.Fatalf("reportPath(%q) = %q escapes", name, rel)
		}
	})
}
