package powertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
)

// APIDoc is a vendor's documented API as a test fixture: where it is
// documented, and request/response pairs that follow the documentation.
type APIDoc struct {
	// Docs are the documentation pages the exchanges follow, each a URL
	// and a one-line summary of what it says.
	Docs []struct {
		URL     string `json:"url"`
		Summary string `json:"summary"`
	} `json:"docs"`
	Exchanges []Exchange `json:"exchanges"`
}

// Exchange is one documented request and the answer the device gives.
type Exchange struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Target  string            `json:"target"` // path and query
	Header  map[string]string `json:"header,omitempty"`
	Body    string            `json:"body,omitempty"`
	Status  int               `json:"status"`
	Answer  string            `json:"answer"` // compared as JSON when both sides parse as JSON
	Comment string            `json:"comment,omitempty"`
}

// ReadAPIDoc reads an APIDoc from a JSON file and checks it names its
// documentation.
func ReadAPIDoc(t testing.TB, path string) *APIDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d APIDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(d.Docs) == 0 || d.Docs[0].URL == "" || d.Docs[0].Summary == "" {
		t.Fatalf("%s names no documentation", path)
	}
	return &d
}

// Replay sends each exchange of the file at path, in order, to h and
// fails on any status or answer that differs from the documented one.
func Replay(t *testing.T, h http.Handler, path string) {
	t.Helper()
	for _, x := range ReadAPIDoc(t, path).Exchanges {
		method := x.Method
		if method == "" {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, x.Target, strings.NewReader(x.Body))
		for k, v := range x.Header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got, _ := io.ReadAll(rec.Result().Body)
		if rec.Code != x.Status {
			t.Errorf("%s: %s %s: status %d; documented %d (answer %q)", x.Name, method, x.Target, rec.Code, x.Status, got)
			continue
		}
		if !sameAnswer(got, []byte(x.Answer)) {
			t.Errorf("%s: %s %s: answer %q; documented %q", x.Name, method, x.Target, got, x.Answer)
		}
	}
}

func sameAnswer(got, want []byte) bool {
	var g, w any
	if json.Unmarshal(got, &g) == nil && json.Unmarshal(want, &w) == nil {
		return reflect.DeepEqual(g, w)
	}
	return bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want))
}

// Serve serves h on a loopback HTTP server for the test's lifetime and
// returns its URL: where a driver under test finds its vendor fake.
func Serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
