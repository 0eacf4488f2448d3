package session

import (
	"encoding/base64"
	"strings"
	"testing"
)

const tok = "SECRETTOKEN123"

func TestRedactAll(t *testing.T) {
	r := newRedactor([]string{tok, "", "LEASEID", tok})
	tests := []struct{ in, want string }{
		{"", ""},
		{"nothing here", "nothing here"},
		{tok, Redacted},
		{"a" + tok + "b" + tok, "a" + Redacted + "b" + Redacted},
		{"/v1/lease/LEASEID/heartbeat", "/v1/lease/" + Redacted + "/heartbeat"},
		{"cut at the end SECRET", "cut at the end " + Redacted}, // a start of 6 bytes
		{"short start SEC", "short start SEC"},                  // 3 bytes: kept
		{"LEASEIDSECRETTOKEN123", Redacted + Redacted},          // adjacent
		{"SECRETTOKEN12 is not it", "SECRETTOKEN12 is not it"},  // a start, not at the end
		{"LEASEI", Redacted}, // a start of the other secret
		{"xSECRETTOKEN123SECRETTOKEN12", "x" + Redacted + Redacted}, // whole, then a start
		{"\x00\xff" + tok + "\x01", "\x00\xff" + Redacted + "\x01"}, // binary
	}
	for _, tt := range tests {
		if got := string(r.all([]byte(tt.in))); got != tt.want {
			t.Errorf("all(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	odd := newRedactor([]string{"a<b&c d"})
	for _, in := range []string{`"a<b&c d"`, `"a\u003cb\u0026c d"`, "q=a%3Cb%26c+d"} {
		if got := string(odd.all([]byte(in))); strings.Contains(got, "b") {
			t.Errorf("all(%q) = %q: the secret as JSON or a query escapes it is kept", in, got)
		}
	}
	none := newRedactor(nil)
	if got := string(none.all([]byte("SECRET"))); got != "SECRET" {
		t.Errorf("no secrets: all = %q", got)
	}
}

// TestRedactStream splits text holding secrets at every pair of points
// into three pushes: the secrets never come out, and the rest comes out
// whole and in order.
func TestRedactStream(t *testing.T) {
	r := newRedactor([]string{tok, "LEASEID"})
	text := "boot: " + tok + " ok LEASEID\nSECRET no, LEASE no\n" + tok
	want := strings.ReplaceAll(strings.ReplaceAll(text, tok, Redacted), "LEASEID", Redacted)
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			var s stream
			var out []byte
			for _, p := range []string{text[:i], text[i:j], text[j:]} {
				got := r.push(&s, []byte(p))
				if strings.Contains(string(got), tok) || strings.Contains(string(got), "LEASEID") {
					t.Fatalf("split %d,%d: pushed %q", i, j, got)
				}
				out = append(out, got...)
			}
			out = append(out, r.flush(&s)...)
			if string(out) != want {
				t.Fatalf("split %d,%d: %q, want %q", i, j, out, want)
			}
		}
	}
}

func TestRedactPushDoesNotAlias(t *testing.T) {
	r := newRedactor([]string{tok})
	var s stream
	buf := []byte("hello ")
	out := r.push(&s, buf)
	copy(buf, "XXXXXX")
	if string(out) != "hello " {
		t.Errorf("pushed bytes changed with the writer's buffer: %q", out)
	}
}

func TestRedactFrames(t *testing.T) {
	r := newRedactor([]string{tok})
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	in := `{"stream":"stdout","data":"` + b64("id="+tok+"\n") + `"}` + "\n" +
		`{"stream":"stdout","data":"` + b64("plain\n") + `"}` + "\n" +
		`{"exit_code":0,"error":"` + tok + `"}` + "\n"
	got := string(r.frames([]byte(in)))
	if strings.Contains(got, tok) || strings.Contains(got, b64("id="+tok+"\n")) {
		t.Fatalf("frames kept the secret: %s", got)
	}
	for _, w := range []string{b64("id=" + Redacted + "\n"), `{"stream":"stdout","data":"` + b64("plain\n") + `"}` + "\n", `"error":"` + Redacted + `"`} {
		if !strings.Contains(got, w) {
			t.Errorf("frames = %s; want it to hold %s", got, w)
		}
	}
	if lines := strings.Count(got, "\n"); lines != 3 {
		t.Errorf("%d lines, want 3", lines)
	}
}
