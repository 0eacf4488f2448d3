package tasmota

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// fake is a Tasmota device's /cm endpoint, as testdata/api.json documents
// it: commands Power<N> [On|Off|Toggle|1|0|2|true|false], the
// user/password query parameters when a web password is set, and the JSON
// warnings it answers (with HTTP 200) to missing credentials, a missing
// command and an unknown command or relay.
type fake struct {
	user, password string
	stuck          bool // the relay never changes (a failed relay)

	mu     sync.Mutex
	relays []bool
	calls  int
}

func newFake(relays int, password string) *fake {
	return &fake{user: "admin", password: password, relays: make([]bool, relays)}
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if r.URL.Path != "/cm" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	answer := func(v map[string]string) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	if f.password != "" && (q.Get("user") != f.user || q.Get("password") != f.password) {
		answer(map[string]string{"WARNING": "Need user=<username>&password=<password>"})
		return
	}
	cmnd := strings.TrimSpace(q.Get("cmnd"))
	if cmnd == "" {
		answer(map[string]string{"WARNING": "Enter command cmnd="})
		return
	}
	name, arg, _ := strings.Cut(cmnd, " ")
	unknown := map[string]string{"Command": "Unknown"}
	if len(name) < 5 || !strings.EqualFold(name[:5], "power") {
		answer(unknown)
		return
	}
	n := 1
	if idx := name[5:]; idx != "" {
		var err error
		if n, err = strconv.Atoi(idx); err != nil {
			answer(unknown)
			return
		}
	}
	if n < 1 || n > len(f.relays) {
		answer(unknown)
		return
	}
	next := f.relays[n-1]
	switch strings.ToLower(strings.TrimSpace(arg)) {
	case "":
	case "on", "1", "true":
		next = true
	case "off", "0", "false":
		next = false
	case "toggle", "2":
		next = !next
	default:
		answer(unknown)
		return
	}
	if !f.stuck {
		f.relays[n-1] = next
	}
	key := "POWER" + strconv.Itoa(n)
	if len(f.relays) == 1 {
		key = "POWER"
	}
	state := "OFF"
	if f.relays[n-1] {
		state = "ON"
	}
	answer(map[string]string{key: state})
}

func (f *fake) relay(n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.relays[n-1]
}
