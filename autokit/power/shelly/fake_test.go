package shelly

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/balena/leviathan-action/autokit/power/powertest"
)

// fake is a Shelly Gen2 device's RPC over HTTP GET, as testdata/api.json
// documents it: Switch.Set and Switch.GetStatus with their id and on
// parameters, RPC errors -103 (missing argument) and -105 (no such
// instance), 404 for an unknown method, and digest authentication
// (SHA-256, user admin) when a password is set; /shelly stays open.
type fake struct {
	stuck bool // the relay never changes

	mu       sync.Mutex
	switches []bool
	source   string
}

func newFake(n int) *fake { return &fake{switches: make([]bool, n), source: "init"} }

// handler serves the fake, behind digest authentication when password is
// not empty.
func (f *fake) handler(password string) http.Handler {
	mux := http.NewServeMux()
	rpc := http.NewServeMux()
	rpc.HandleFunc("/rpc/Switch.Set", f.set)
	rpc.HandleFunc("/rpc/Switch.GetStatus", f.getStatus)
	rpc.HandleFunc("/rpc/", func(w http.ResponseWriter, r *http.Request) {
		rpcError(w, http.StatusNotFound, 404, "No handler for "+r.URL.Path[len("/rpc/"):])
	})
	mux.HandleFunc("/shelly", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"id": "shellypro4pm-f008d1d8b8b8", "gen": 2, "auth_en": password != ""})
	})
	if password == "" {
		mux.Handle("/rpc/", rpc)
	} else {
		d := &powertest.Digest{Realm: "shellypro4pm-f008d1d8b8b8", User: "admin", Password: password, Algorithm: "SHA-256",
			Unauthorized: func(w http.ResponseWriter) { rpcError(w, http.StatusUnauthorized, 401, "Unauthorized") }}
		mux.Handle("/rpc/", d.Wrap(rpc))
	}
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func rpcError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg})
}

// instance parses the id parameter, answering the RPC error itself.
func (f *fake) instance(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("id")
	if s == "" {
		rpcError(w, http.StatusInternalServerError, -103, "Missing required argument 'id'!")
		return 0, false
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		rpcError(w, http.StatusInternalServerError, -103, "Invalid argument 'id'!")
		return 0, false
	}
	if id < 0 || id >= len(f.switches) {
		rpcError(w, http.StatusInternalServerError, -105, fmt.Sprintf("Argument 'id', value %d not found!", id))
		return 0, false
	}
	return id, true
}

func (f *fake) set(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.instance(w, r)
	if !ok {
		return
	}
	on, err := strconv.ParseBool(r.URL.Query().Get("on"))
	if err != nil || (r.URL.Query().Get("on") != "true" && r.URL.Query().Get("on") != "false") {
		rpcError(w, http.StatusInternalServerError, -103, "Missing required argument 'on'!")
		return
	}
	was := f.switches[id]
	if !f.stuck {
		f.switches[id] = on
		f.source = "http"
	}
	writeJSON(w, map[string]any{"was_on": was})
}

func (f *fake) getStatus(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.instance(w, r)
	if !ok {
		return
	}
	writeJSON(w, map[string]any{"id": id, "source": f.source, "output": f.switches[id], "temperature": map[string]any{"tC": 41.2, "tF": 106.2}})
}
