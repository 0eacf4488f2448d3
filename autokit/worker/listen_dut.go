package worker

import (
	"crypto/rand"
	"net"
	"net/http"
	"sync"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
)

// maxListeners bounds the listeners open at once (they live on the DUT's
// SSH server).
const maxListeners = 16

// dutListener is a port on the DUT's loopback whose connections wait for
// an accepting request.
type dutListener struct {
	ln     net.Listener
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// loop hands each connection from the DUT to one accepting request.
func (l *dutListener) loop() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			l.close()
			return
		}
		select {
		case l.conns <- c:
		case <-l.closed:
			c.Close()
			return
		}
	}
}

func (l *dutListener) close() {
	l.once.Do(func() {
		close(l.closed)
		l.ln.Close()
	})
}

// postListen opens a port on the DUT's own loopback for the suite: the
// DUT connects to the returned address, the suite accepts each connection
// with GET /v1/listen/{id}. Only the DUT can reach it, and it closes when
// the DUT is powered off or the lease ends.
func (w *Worker) postListen(rw http.ResponseWriter, r *http.Request) error {
	addr, err := w.sshAddress(r.Context())
	if err != nil {
		return err
	}
	w.tunMu.Lock()
	n := len(w.listeners)
	w.tunMu.Unlock()
	if n >= maxListeners {
		return errorf(api.CodeLimitReached, "worker: %d listeners are open already; close one (DELETE %s/{id})", n, api.PathListen)
	}
	ln, err := w.pool.ListenTCP(r.Context(), addr)
	if err != nil {
		return errorf(api.CodeDUTUnreachable, "worker: opening a port on the DUT for the suite (is it booted, and does its SSH server allow remote forwarding?): %w", err)
	}
	l := &dutListener{ln: ln, conns: make(chan net.Conn), closed: make(chan struct{})}
	id := rand.Text()
	w.tunMu.Lock()
	if w.listeners == nil {
		w.listeners = map[string]*dutListener{}
	}
	w.listeners[id] = l
	w.tunMu.Unlock()
	go l.loop()
	w.log.Debug("listening on the DUT", "address", ln.Addr().String())
	writeJSON(rw, http.StatusCreated, api.Listener{ID: id, Address: ln.Addr().String()})
	return nil
}

// getListen waits for the DUT to connect to listener {id} and then carries
// that connection over the request's, like a tunnel.
func (w *Worker) getListen(rw http.ResponseWriter, r *http.Request) error {
	if !isUpgrade(r) {
		return errUpgrade()
	}
	l, err := w.listener(r.PathValue("id"))
	if err != nil {
		return err
	}
	select {
	case c := <-l.conns:
		return w.carry(rw, c, "listener")
	case <-l.closed:
		return errorf(api.CodeListenerClosed, "worker: the listener was closed (the DUT powered off, the lease ended, or DELETE)")
	case <-r.Context().Done():
		return nil // the suite stopped waiting
	}
}

func (w *Worker) deleteListen(rw http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	l, err := w.listener(id)
	if err != nil {
		return err
	}
	w.tunMu.Lock()
	delete(w.listeners, id)
	w.tunMu.Unlock()
	l.close()
	rw.WriteHeader(http.StatusNoContent)
	return nil
}

func (w *Worker) listener(id string) (*dutListener, error) {
	if _, ok := dut.As[dut.Network](w.d, dut.CapNetwork); !ok {
		return nil, notImplemented(dut.CapNetwork)
	}
	w.tunMu.Lock()
	defer w.tunMu.Unlock()
	l := w.listeners[id]
	if l == nil {
		return nil, errorf(api.CodeNotFound, "worker: no listener %s (closed with the DUT's power or the lease, or never opened)", short(id))
	}
	return l, nil
}
