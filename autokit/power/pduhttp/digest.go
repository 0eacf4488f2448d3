package pduhttp

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// challenge is a parsed "WWW-Authenticate: Digest ..." header (RFC 7616).
type challenge struct {
	realm, nonce, opaque, algorithm string
	qopAuth                         bool
	nc                              int
}

// DigestHash returns the hash function of a digest algorithm name: MD5
// (also when empty) or SHA-256. It is exported for the test fakes.
func DigestHash(algorithm string) (func() hash.Hash, error) {
	switch strings.ToUpper(algorithm) {
	case "", "MD5":
		return md5.New, nil
	case "SHA-256":
		return sha256.New, nil
	}
	return nil, fmt.Errorf("digest algorithm %q is not supported", algorithm)
}

// DigestResponse computes the "response" value of RFC 7616 section 3.4.1
// for qop "auth" (or no qop when qop is empty). It is exported for the
// test fakes, which check what a driver sent.
func DigestResponse(h func() hash.Hash, user, realm, password, method, uri, nonce, nc, cnonce, qop string) string {
	hx := func(s string) string {
		d := h()
		d.Write([]byte(s))
		return hex.EncodeToString(d.Sum(nil))
	}
	ha1 := hx(user + ":" + realm + ":" + password)
	ha2 := hx(method + ":" + uri)
	if qop == "" {
		return hx(ha1 + ":" + nonce + ":" + ha2)
	}
	return hx(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
}

// ParseAuthParams splits the parameters of an authentication header after
// its scheme: k=v or k="v" separated by commas. Exported for the fakes.
func ParseAuthParams(s string) map[string]string {
	m := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		k := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimSpace(s[eq+1:])
		var v string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			v = b.String()
			s = s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			v = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		m[k] = v
		s = strings.TrimLeft(s, ", \t")
	}
	return m
}

func parseChallenge(headers []string) (*challenge, error) {
	// Prefer SHA-256 when the device offers several challenges.
	var best *challenge
	for _, h := range headers {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := ParseAuthParams(rest)
		if _, err := DigestHash(p["algorithm"]); err != nil {
			continue
		}
		ch := &challenge{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"], algorithm: p["algorithm"]}
		for _, q := range strings.Split(p["qop"], ",") {
			if strings.TrimSpace(q) == "auth" {
				ch.qopAuth = true
			}
		}
		if ch.nonce == "" {
			continue
		}
		if best == nil || strings.EqualFold(ch.algorithm, "SHA-256") {
			best = ch
		}
	}
	if best == nil {
		return nil, errors.New("no usable digest challenge")
	}
	return best, nil
}

// authorize builds the Authorization header for one request. The caller
// holds the client's lock (nc counts up).
func (ch *challenge) authorize(user, password, method, uri string) string {
	h, _ := DigestHash(ch.algorithm)
	ch.nc++
	nc := fmt.Sprintf("%08x", ch.nc)
	var raw [12]byte
	rand.Read(raw[:])
	cnonce := hex.EncodeToString(raw[:])
	qop := ""
	if ch.qopAuth {
		qop = "auth"
	}
	resp := DigestResponse(h, user, ch.realm, password, method, uri, ch.nonce, nc, cnonce, qop)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%q, realm=%q, nonce=%q, uri=%q, response=%q`, user, ch.realm, ch.nonce, uri, resp)
	if ch.algorithm != "" {
		fmt.Fprintf(&b, `, algorithm=%s`, ch.algorithm)
	}
	if ch.opaque != "" {
		fmt.Fprintf(&b, `, opaque=%q`, ch.opaque)
	}
	if qop != "" {
		fmt.Fprintf(&b, `, qop=%s, nc=%s, cnonce=%q`, qop, nc, cnonce)
	}
	return b.String()
}
