package testimage

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostIndex lays the host's copy of bin and of every shared object it
// needs out the way Debian packages do: a soname link next to its file in
// lib/x86_64-linux-gnu, and lib64/ld-linux-x86-64.so.2 pointing there.
func hostIndex(t *testing.T, bin string) (fileIndex, []string) {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Skipf("no host binary to test with: %v", err)
	}
	interp, _, err := elfImports(data)
	if err != nil || interp == "" {
		t.Skipf("%s is not a dynamic ELF binary here (%v)", bin, err)
	}
	ix := fileIndex{"usr/bin/prog": {Name: "usr/bin/prog", Type: tar.TypeReg, Mode: 0o755, Data: data}}
	var sonames []string
	queue := [][]byte{data}
	seen := map[string]bool{}
	for len(queue) > 0 {
		interp, needed, err := elfImports(queue[0])
		queue = queue[1:]
		if err != nil {
			t.Fatal(err)
		}
		if interp != "" {
			needed = append(needed, filepath.Base(interp))
		}
		for _, so := range needed {
			if seen[so] {
				continue
			}
			seen[so] = true
			var real string
			for _, d := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64"} {
				if p, err := filepath.EvalSymlinks(filepath.Join(d, so)); err == nil {
					real = p
					break
				}
			}
			if real == "" {
				t.Skipf("host library %s not found", so)
			}
			b, err := os.ReadFile(real)
			if err != nil {
				t.Fatal(err)
			}
			file := "lib/x86_64-linux-gnu/" + so + ".real"
			ix[file] = &debEntry{Name: file, Type: tar.TypeReg, Mode: 0o644, Data: b}
			link := "lib/x86_64-linux-gnu/" + so
			ix[link] = &debEntry{Name: link, Type: tar.TypeSymlink, Link: so + ".real"}
			sonames = append(sonames, so)
			queue = append(queue, b)
		}
	}
	if interp != "" {
		ix["lib64/"+filepath.Base(interp)] = &debEntry{Type: tar.TypeSymlink, Link: "/lib/x86_64-linux-gnu/" + filepath.Base(interp)}
	}
	return ix, sonames
}

func TestSharedObjectClosure(t *testing.T) {
	ix, sonames := hostIndex(t, "/usr/bin/ls")
	got, err := sharedObjectClosure(ix, []string{"usr/bin/prog"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("closure: %v", got)
	for _, so := range sonames {
		for _, p := range []string{"lib/x86_64-linux-gnu/" + so, "lib/x86_64-linux-gnu/" + so + ".real"} {
			if !slices.Contains(got, p) {
				t.Errorf("closure lacks %s", p)
			}
		}
	}
	if !slices.Contains(got, "lib64/ld-linux-x86-64.so.2") {
		t.Error("closure lacks the interpreter path lib64/ld-linux-x86-64.so.2")
	}
	if slices.Contains(got, "usr/bin/prog") {
		t.Error("closure lists the binary itself")
	}

	// A library nobody provides is an error that names it.
	delete(ix, "lib/x86_64-linux-gnu/libc.so.6")
	_, err = sharedObjectClosure(ix, []string{"usr/bin/prog"})
	if err == nil || !strings.Contains(err.Error(), "needs libc.so.6") || !strings.HasPrefix(err.Error(), "testimage: ") {
		t.Errorf("without libc: err = %v", err)
	}
}

func TestResolve(t *testing.T) {
	ix := fileIndex{
		"usr/lib/x86_64-linux-gnu/libz.so.1.2.13": {Type: tar.TypeReg, Data: []byte("z")},
		"usr/lib/x86_64-linux-gnu/libz.so.1":      {Type: tar.TypeSymlink, Link: "libz.so.1.2.13"},
		"lib/x86_64-linux-gnu/libz.so.1":          {Type: tar.TypeSymlink, Link: "../../usr/lib/x86_64-linux-gnu/libz.so.1"},
		"loop/a":                                  {Type: tar.TypeSymlink, Link: "b"},
		"loop/b":                                  {Type: tar.TypeSymlink, Link: "/loop/a"},
		"dangling":                                {Type: tar.TypeSymlink, Link: "nowhere"},
		"unkept":                                  {Type: tar.TypeReg},
	}
	chain, err := ix.resolve("/lib/x86_64-linux-gnu/libz.so.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"lib/x86_64-linux-gnu/libz.so.1", "usr/lib/x86_64-linux-gnu/libz.so.1", "usr/lib/x86_64-linux-gnu/libz.so.1.2.13"}
	if !slices.Equal(chain, want) {
		t.Errorf("chain %v, want %v", chain, want)
	}
	for _, p := range []string{"loop/a", "dangling", "unkept", "missing"} {
		if _, err := ix.resolve(p); err == nil {
			t.Errorf("resolve(%s) succeeded", p)
		}
	}
}

func TestIsLibraryFile(t *testing.T) {
	for name, want := range map[string]bool{
		"lib/x86_64-linux-gnu/libc.so.6":             true,
		"usr/lib/x86_64-linux-gnu/libgmp.so.10.4.1":  true,
		"lib64/ld-linux-x86-64.so.2":                 true,
		"usr/lib/x86_64-linux-gnu/gconv/UTF-16.so":   false,
		"usr/share/doc/libc6/changelog.Debian.gz":    false,
		"usr/lib/x86_64-linux-gnu/libtomcrypt.a":     false,
		"usr/lib/x86_64-linux-gnu/audit/sotruss.lib": false,
	} {
		if got := isLibraryFile(name); got != want {
			t.Errorf("isLibraryFile(%s) = %v, want %v", name, got, want)
		}
	}
}
