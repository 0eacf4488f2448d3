package testmode

import "testing"

func TestReproduce(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"file", Options{Source: Source{Path: "out/balena.img.zst"}, Suites: []string{"os", "tests/suites/hup"}},
			"leviathan run --image out/balena.img.zst --suite os --suite tests/suites/hup"},
		{"url with a token in its query", Options{Source: Source{URL: "https://files.example/img/balena.img.gz?token=abc"}, Suites: []string{"os"}, Run: "TestBoot|TestSSH"},
			"curl -fLo balena.img.gz https://files.example/img/balena.img.gz && leviathan run --image balena.img.gz --suite os --run 'TestBoot|TestSSH'"},
		{"artifact", Options{Source: Source{Artifact: "image", Member: "balena.img.zst", Repo: "balena/meta"}, RunID: "42", Suites: []string{"os"}},
			"gh run download 42 -R balena/meta -n image && leviathan run --image balena.img.zst --suite os"},
		{"quotes", Options{Source: Source{Path: "my image's.img"}, Suites: []string{"os"}},
			`leviathan run --image 'my image'\''s.img' --suite os`},
		{"no image", Options{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.reproduce(); got != tc.want {
				t.Errorf("reproduce() =\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}
