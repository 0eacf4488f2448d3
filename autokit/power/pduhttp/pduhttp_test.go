package pduhttp

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The example of RFC 7616 section 3.9.1.
func TestDigestResponseRFC7616(t *testing.T) {
	const (
		user, realm, pass = "Mufasa", "http-auth@example.org", "Circle of Life"
		nonce             = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		cnonce            = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	if got := DigestResponse(md5.New, user, realm, pass, "GET", "/dir/index.html", nonce, "00000001", cnonce, "auth"); got != "8ca523f5e9506fed4657c9700eebdbec" {
		t.Errorf("MD5 response = %s", got)
	}
	if got := DigestResponse(sha256.New, user, realm, pass, "GET", "/dir/index.html", nonce, "00000001", cnonce, "auth"); got != "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1" {
		t.Errorf("SHA-256 response = %s", got)
	}
}

func TestParseAuthParams(t *testing.T) {
	p := ParseAuthParams(`qop="auth", realm="a, \"b\"", nonce=abc, algorithm=SHA-256`)
	if p["qop"] != "auth" || p["realm"] != `a, "b"` || p["nonce"] != "abc" || p["algorithm"] != "SHA-256" {
		t.Fatalf("%q", p)
	}
}

// flaky accepts connections and closes the first n without answering.
func flaky(t *testing.T, n int32, h http.Handler) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int32
	srv := &http.Server{Handler: h, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew && seen.Add(1) <= n {
			c.Close()
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), &seen
}

func client(t *testing.T, raw string, opts ...Option) *Client {
	u, err := ParseURL("test", raw)
	if err != nil {
		t.Fatal(err)
	}
	return New("test", u, append([]Option{WithRetries(2, 5*time.Millisecond)}, opts...)...)
}

func TestRetriesConnectionErrors(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	u, seen := flaky(t, 2, ok)
	resp, err := client(t, u).Do(context.Background(), Request{Path: "/x"})
	if err != nil || string(resp.Body) != "fine" {
		t.Fatalf("Do = %v, %v after %d connections", resp, err, seen.Load())
	}
	u, _ = flaky(t, 10, ok)
	_, err = client(t, u).Do(context.Background(), Request{Path: "/x"})
	var he *Error
	if !errors.As(err, &he) || he.Attempts != 3 || he.Status != 0 {
		t.Fatalf("Do = %v; want no answer after 3 attempts", err)
	}
}

func TestNoRetryOnHTTPError(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, strings.Repeat("overheated ", 50), http.StatusInternalServerError)
	}))
	defer srv.Close()
	_, err := client(t, srv.URL).Do(context.Background(), Request{Path: "/x"})
	var he *Error
	if !errors.As(err, &he) || he.Status != 500 || n.Load() != 1 || len(he.Body) > excerptLen+4 || !strings.HasPrefix(err.Error(), "test: GET ") {
		t.Fatalf("Do = %v after %d requests", err, n.Load())
	}
}

func TestPerAttemptTimeoutAndContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	start := time.Now()
	_, err := client(t, srv.URL, WithTimeout(30*time.Millisecond)).Do(context.Background(), Request{Path: "/slow"})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("Do = %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client(t, srv.URL).Do(ctx, Request{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a cancelled ctx = %v", err)
	}
}

func TestURLHidesSecrets(t *testing.T) {
	c := client(t, "http://plug", WithRedactedQuery("password"))
	got := c.URL(Request{Path: "/cm", RawQuery: "user=admin&password=joker&cmnd=Power1"})
	if strings.Contains(got, "joker") {
		t.Fatal(got)
	}
	for _, raw := range []string{"http://u:p@plug", "plug", "http://plug/?a=b"} {
		if _, err := ParseURL("test", raw); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		}
	}
	if _, err := url.Parse("http://plug"); err != nil {
		t.Fatal(err)
	}
}
