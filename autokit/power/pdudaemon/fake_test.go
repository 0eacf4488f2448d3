package pdudaemon

import (
	"net/http"
	"strconv"
	"sync"
)

// fake is PDUDaemon's HTTP listener, as testdata/api.json documents it:
// GET /power/control/{on,off,reboot} with hostname and port, or alias,
// and an optional delay (5 s when absent); 200 "OK - accepted request"
// when queued, 500 "Invalid request: …" otherwise. Requests are applied at
// once (the fake has no queue) so tests can see what the PDU got.
type fake struct {
	pdus    map[string]int // PDU name → number of ports
	aliases map[string][2]string

	mu     sync.Mutex
	ports  map[string]bool // "pdu/port" → on
	delays []string
}

func newFake() *fake {
	return &fake{
		pdus:    map[string]int{"pdu1": 8},
		aliases: map[string][2]string{"rpi4": {"pdu1", "3"}},
		ports:   map[string]bool{},
	}
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	var cmd string
	switch r.URL.Path {
	case "/power/control/on", "/power/control/off", "/power/control/reboot":
		cmd = r.URL.Path[len("/power/control/"):]
	default:
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	invalid := func(msg string) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("Invalid request: " + msg + "\n"))
	}
	host, port := q.Get("hostname"), q.Get("port")
	if a := q.Get("alias"); a != "" {
		if host != "" || port != "" {
			invalid("alias given with hostname or port")
			return
		}
		hp, ok := f.aliases[a]
		if !ok {
			invalid("alias not found")
			return
		}
		host, port = hp[0], hp[1]
	}
	if host == "" || port == "" {
		invalid("one of hostname, port, request was not set")
		return
	}
	n, ok := f.pdus[host]
	if !ok {
		invalid("PDU was not found in config")
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > n {
		invalid("port not found on PDU")
		return
	}
	if d := q.Get("delay"); d != "" {
		if _, err := strconv.Atoi(d); err != nil {
			invalid("delay is not a number")
			return
		}
	}
	f.mu.Lock()
	f.delays = append(f.delays, q.Get("delay"))
	f.ports[host+"/"+port] = cmd != "off"
	f.mu.Unlock()
	w.Write([]byte("OK - accepted request\n"))
}
