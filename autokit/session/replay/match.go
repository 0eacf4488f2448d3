package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/session"
)

// ignoredFields are JSON fields left out when bodies are compared: a
// client computes them from its clock (the time left before its
// context's deadline), so they differ on every run.
var ignoredFields = []string{"timeout_seconds"}

// request is what of an HTTP request a recorded call is matched on.
type request struct {
	method string
	path   string
	segs   []string
	query  url.Values
	raw    string // the raw query
	body   []byte // at most maxBody bytes
	size   int64  // the whole body's size
	json   any    // the body decoded, when it is JSON
	isJSON bool
}

// call is a recorded call that can answer a request, with its key
// decoded once.
type call struct {
	idx   int // position among the candidates, in arrival order
	rec   *session.Call
	at    time.Duration // when the request arrived, since the lease began
	end   time.Duration // when its answer ended
	req   request
	route string // "METHOD pattern", such as "GET /v1/listen/{id}"
	// upgrade is set for a tunnel or a listener's connection.
	upgrade bool
	// preferred is set for a call made while a replayed test ran
	// (WithTests); without WithTests every call is.
	preferred bool
	// testbot is set for the testbot's read of a test's console
	// (WithTestEvents).
	testbot bool
}

// newRequest decodes a recorded or live request's key.
func newRequest(method, path, rawQuery string, body []byte, size int64) request {
	q, _ := url.ParseQuery(rawQuery)
	r := request{method: method, path: path, segs: strings.Split(path, "/"), query: q, raw: rawQuery, body: body, size: size}
	r.json, r.isJSON = decodeJSON(body)
	return r
}

// decodeJSON decodes b when it is one JSON value, leaving out
// ignoredFields.
func decodeJSON(b []byte) (any, bool) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	return strip(v), true
}

// strip removes ignoredFields from every object in v.
func strip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for _, f := range ignoredFields {
			delete(x, f)
		}
		for k, e := range x {
			x[k] = strip(e)
		}
	case []any:
		for i, e := range x {
			x[i] = strip(e)
		}
	}
	return v
}

// matches reports whether the live request r has recorded call c's key.
func (c *call) matches(r *request) bool {
	rec := &c.req
	if rec.method != r.method || len(rec.segs) != len(r.segs) {
		return false
	}
	for i, s := range rec.segs {
		if !sameText(s, r.segs[i]) {
			return false
		}
	}
	if !sameQuery(rec.query, r.query) {
		return false
	}
	switch {
	case c.rec.BodyOmitted:
		return c.rec.BodySize == r.size
	case rec.isJSON && r.isJSON:
		return sameJSON(rec.json, r.json)
	}
	return bytes.Equal(rec.body, r.body)
}

func sameQuery(rec, got url.Values) bool {
	if len(rec) != len(got) {
		return false
	}
	for k, rv := range rec {
		gv, ok := got[k]
		if !ok || len(gv) != len(rv) {
			return false
		}
		for i := range rv {
			if !sameText(rv[i], gv[i]) {
				return false
			}
		}
	}
	return true
}

// sameText compares a recorded string with a live one: where the
// recording redacted a credential, any non-empty text matches.
func sameText(rec, got string) bool {
	if !strings.Contains(rec, session.Redacted) {
		return rec == got
	}
	parts := strings.Split(rec, session.Redacted)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re, err := regexp.Compile("^" + strings.Join(parts, ".+") + "$")
	return err == nil && re.MatchString(got)
}

// sameJSON compares decoded JSON values: objects by their fields, numbers
// by value, recorded strings with sameText.
func sameJSON(rec, got any) bool {
	switch r := rec.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(r) {
			return false
		}
		for k, rv := range r {
			gv, ok := g[k]
			if !ok || !sameJSON(rv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(r) {
			return false
		}
		for i := range r {
			if !sameJSON(r[i], g[i]) {
				return false
			}
		}
		return true
	case string:
		g, ok := got.(string)
		return ok && sameText(r, g)
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return false
		}
		if r == g {
			return true
		}
		rf, err1 := strconv.ParseFloat(string(r), 64)
		gf, err2 := strconv.ParseFloat(string(g), 64)
		return err1 == nil && err2 == nil && rf == gf
	}
	return rec == got // bool, nil
}

// patterns are the API's paths with a variable segment.
var patterns = []string{api.PathLeaseID, api.PathHeartbeat, api.PathImage, api.PathListenID, api.PathTestrunnerSuite}

// routeOf is the endpoint a request is for: "METHOD pattern".
func routeOf(method string, segs []string) string {
	for _, p := range patterns {
		ps := strings.Split(p, "/")
		if len(ps) != len(segs) {
			continue
		}
		ok := true
		for i, s := range ps {
			if !strings.HasPrefix(s, "{") && s != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return method + " " + p
		}
	}
	return method + " " + strings.Join(segs, "/")
}

// testbotRoutes are the endpoints only a testbot calls (leasing,
// flashing, the testrunner, fetching the session): never named as what a
// suite should have called.
var testbotRoutes = map[string]bool{
	"POST " + api.PathLease:            true,
	"DELETE " + api.PathLeaseID:        true,
	"POST " + api.PathHeartbeat:        true,
	"POST " + api.PathTeardown:         true,
	"PUT " + api.PathFlash:             true,
	"GET " + api.PathFlash:             true,
	"GET " + api.PathImage:             true,
	"GET " + api.PathHealth:            true,
	"PUT " + api.PathTestrunnerSuite:   true,
	"POST " + api.PathTestrunner:       true,
	"GET " + api.PathTestrunnerReports: true,
	"POST " + api.PathTestrunnerPull:   true,
	"GET " + api.PathSession:           true,
}

// excerptLen bounds a body's excerpt in messages.
const excerptLen = 120

// describe is the request in one line: METHOD path?query and an excerpt
// of its body (JSON without ignoredFields).
func (r *request) describe() string {
	s := r.method + " " + r.path
	if r.raw != "" {
		s += "?" + r.raw
	}
	if b := r.excerpt(); b != "" {
		s += " " + b
	}
	return s
}

func (r *request) excerpt() string {
	switch {
	case r.isJSON:
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(r.json)
		return clip(strings.TrimSuffix(b.String(), "\n"))
	case r.size == 0:
		return ""
	case utf8.Valid(r.body):
		return strconv.Quote(clip(string(r.body)))
	}
	return fmt.Sprintf("(%d bytes)", r.size)
}

// clip cuts s to excerptLen characters.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= excerptLen {
		return s
	}
	r := []rune(s)
	return string(r[:excerptLen]) + "…"
}

// describe names a recorded call: its number, the request and when it
// was made.
func (c *call) describe() string {
	s := fmt.Sprintf("#%d %s", c.rec.Seq, c.req.describe())
	if c.rec.BodyOmitted {
		s += fmt.Sprintf(" (a %d-byte body)", c.rec.BodySize)
	}
	return s + fmt.Sprintf(" (made %s into the recorded lease)", c.at.Round(time.Millisecond))
}
