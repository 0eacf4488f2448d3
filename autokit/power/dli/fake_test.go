package dli

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/balena/leviathan-action/autokit/power/powertest"
)

// fake is a DLI web power switch's REST API for outlets, as
// testdata/api.json documents it: /restapi/relay/outlets/N/{state,
// physical_state,transient_state}/ with outlets counted from 0, GET with
// Accept: application/json answering true or false, PUT with the form body
// value=true|false, digest authentication, and the X-CSRF header that
// every modifying request must carry.
type fake struct {
	noPhysical bool // older firmware: no physical_state resource
	lag        int  // reads of physical_state before the relay follows a PUT
	stuck      bool // the relay never follows

	mu       sync.Mutex
	state    []bool // persistent state, as commanded
	physical []bool
	pending  int
	puts     int
}

func newFake(outlets int) *fake {
	return &fake{state: make([]bool, outlets), physical: make([]bool, outlets)}
}

func (f *fake) handler(user, password string) http.Handler {
	h := http.HandlerFunc(f.serve)
	if password == "" {
		return h
	}
	return (&powertest.Digest{Realm: "DLI Web Power Switch", User: user, Password: password}).Wrap(h)
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, "/restapi/relay/outlets/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[2] != "" {
		http.NotFound(w, r)
		return
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || n < 0 || n >= len(f.state) {
		http.NotFound(w, r)
		return
	}
	resource := parts[1]
	switch resource {
	case "state", "transient_state":
	case "physical_state":
		if f.noPhysical {
			http.NotFound(w, r)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if !strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html><body>outlet "+parts[0]+"</body></html>")
			return
		}
		v := f.state[n]
		if resource == "physical_state" {
			if f.pending > 0 {
				f.pending--
			} else if !f.stuck {
				f.physical[n] = f.state[n]
			}
			v = f.physical[n]
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, strconv.FormatBool(v))
	case http.MethodPut:
		if r.Header.Get("X-CSRF") == "" {
			http.Error(w, "CSRF protection: X-CSRF header required", http.StatusForbidden)
			return
		}
		if resource == "physical_state" {
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		b, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(b))
		v := form.Get("value")
		if err != nil || (v != "true" && v != "false") {
			http.Error(w, "value must be true or false", http.StatusBadRequest)
			return
		}
		f.puts++
		f.state[n] = v == "true"
		f.pending = f.lag
		if f.noPhysical && !f.stuck {
			f.physical[n] = f.state[n]
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
