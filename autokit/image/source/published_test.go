package source

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPublishedSHA256(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	mux := http.NewServeMux()
	mux.HandleFunc("/sumfile.img.gz.sha256", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.ToUpper(sum) + "  sumfile.img.gz\n"))
	})
	mux.HandleFunc("/bare.img.sha256", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(sum)) })
	mux.HandleFunc("/junk.img.sha256", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	for _, name := range []string{"sumfile.img.gz", "bare.img"} {
		if got, err := PublishedSHA256(ctx, srv.URL+"/"+name); err != nil || got != sum {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	for _, tc := range []struct{ ref, want string }{
		{srv.URL + "/junk.img", "does not start with a hex SHA-256"},
		{srv.URL + "/missing.img", "404"},
		{"/local/file.img", "not an http(s) URL"},
	} {
		if _, err := PublishedSHA256(ctx, tc.ref); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.ref, err, tc.want)
		}
	}
}
