package report

import (
	"os"
	"path/filepath"
	"testing"
)

// A walk cut short cannot prove a name unique: the bare name is then
// kept as given, while a file the package path finds is still placed.
func TestResolverBoundedWalk(t *testing.T) {
	ws := t.TempDir()
	for _, name := range []string{"go.mod", "a/1.txt", "a/2.txt", "a/3.txt", "z/only_test.go"} {
		p := filepath.Join(ws, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		text := ""
		if name == "go.mod" {
			text = "module example.com/m\n"
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		limit     int
		pkg, want string
	}{
		{limit: MaxWalkEntries, want: "z/only_test.go"},
		{limit: 4, want: "only_test.go"}, // as given
		{limit: 4, pkg: "example.com/m/z", want: "z/only_test.go"},
	} {
		r := NewResolver(ws)
		r.limit = tc.limit
		got, _ := r.Resolve("only_test.go", tc.pkg, "")
		if got != tc.want {
			t.Errorf("limit %d, package %q: %q, want %q", tc.limit, tc.pkg, got, tc.want)
		}
		if tc.limit < MaxWalkEntries && !r.partial {
			t.Errorf("limit %d: the walk was not cut short", tc.limit)
		}
	}
}
