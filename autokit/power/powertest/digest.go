package powertest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"

	"github.com/balena/leviathan-action/autokit/power/pduhttp"
)

// Digest is server-side HTTP digest authentication (RFC 7616) with qop
// "auth", for fakes of devices that demand it. The zero Algorithm is MD5.
type Digest struct {
	Realm, User, Password string
	Algorithm             string // "MD5" or "SHA-256"
	// Unauthorized writes the body of a 401 answer, as the device does;
	// plain text when nil.
	Unauthorized func(w http.ResponseWriter)

	mu     sync.Mutex
	nonces map[string]bool
}

// Wrap lets through only requests whose Authorization header answers a
// challenge this Digest issued, with the right user, password, method and
// URI; it answers anything else with 401 and a fresh challenge.
func (d *Digest) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.ok(r) {
			next.ServeHTTP(w, r)
			return
		}
		var raw [16]byte
		rand.Read(raw[:])
		nonce := hex.EncodeToString(raw[:])
		d.mu.Lock()
		if d.nonces == nil {
			d.nonces = map[string]bool{}
		}
		d.nonces[nonce] = true
		d.mu.Unlock()
		alg := d.Algorithm
		if alg == "" {
			alg = "MD5"
		}
		w.Header().Set("WWW-Authenticate", `Digest qop="auth", realm="`+d.Realm+`", nonce="`+nonce+`", algorithm=`+alg)
		if d.Unauthorized != nil {
			d.Unauthorized(w)
			return
		}
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
	})
}

func (d *Digest) ok(r *http.Request) bool {
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return false
	}
	p := pduhttp.ParseAuthParams(rest)
	d.mu.Lock()
	known := d.nonces[p["nonce"]]
	d.mu.Unlock()
	if !known || p["username"] != d.User || p["realm"] != d.Realm || p["uri"] != r.URL.RequestURI() || p["qop"] != "auth" {
		return false
	}
	alg := p["algorithm"]
	if alg == "" {
		alg = "MD5"
	}
	want := d.Algorithm
	if want == "" {
		want = "MD5"
	}
	if !strings.EqualFold(alg, want) {
		return false
	}
	h, err := pduhttp.DigestHash(alg)
	if err != nil {
		return false
	}
	return p["response"] == pduhttp.DigestResponse(h, d.User, d.Realm, d.Password, r.Method, p["uri"], p["nonce"], p["nc"], p["cnonce"], "auth")
}
