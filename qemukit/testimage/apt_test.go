package testimage

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	out := []byte(`busybox-static:
  Installed: 1:1.35.0-4+deb12u1+b1
  Candidate: 1:1.35.0-4+deb12u1+b1
  Version table:
 *** 1:1.35.0-4+deb12u1+b1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-6.1.0-56-amd64:
  Installed: (none)
  Candidate: 6.1.192-2
  Version table:
     6.1.192-2 500
systemd-boot-efi:
  Installed: (none)
  Candidate: (none)
  Version table:
`)
	want := map[string]string{
		"busybox-static":             "1:1.35.0-4+deb12u1+b1",
		"linux-image-6.1.0-56-amd64": "6.1.192-2",
		"systemd-boot-efi":           "(none)",
	}
	if got := parsePolicy(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDebGlob(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb",
		"systemd-boot-efi_252.39-1~deb12u2_amd64.deb",
		"busybox-static_1%3a1.36.0-1_amd64.deb",
	} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		p    aptPackage
		want string
	}{
		{aptPackage{Name: "busybox-static", Version: "1:1.35.0-4+deb12u1+b1"}, "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"},
		{aptPackage{Name: "systemd-boot-efi", Version: "252.39-1~deb12u2"}, "systemd-boot-efi_252.39-1~deb12u2_amd64.deb"},
		{aptPackage{Name: "systemd-boot-efi", Version: "252.38-1~deb12u1"}, ""},
	} {
		m, err := filepath.Glob(debGlob(dir, c.p))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(m) == 1 {
			got = filepath.Base(m[0])
		}
		if got != c.want || len(m) > 1 {
			t.Errorf("%s %s: matched %v, want %q", c.p.Name, c.p.Version, m, c.want)
		}
	}
}
