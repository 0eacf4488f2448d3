package session

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
)

// minPartial is the shortest start of a secret that is redacted where
// bytes end (a response cut by the bound, a stream that closed, the
// console's last bytes at a snapshot): shorter, it is kept, since it says
// nothing of the secret and is far more often a coincidence.
const minPartial = 4

// redactor replaces secrets in bytes.
type redactor struct {
	secrets [][]byte // non-empty, longest first
	maxLen  int
}

func newRedactor(secrets []string) redactor {
	var r redactor
	var all []string
	for _, s := range secrets {
		// As the secret would be written in a JSON string or a query too.
		j, _ := json.Marshal(s)
		all = append(all, s, string(j[1:len(j)-1]), url.QueryEscape(s))
	}
	for _, s := range all {
		if s == "" || slices.ContainsFunc(r.secrets, func(b []byte) bool { return string(b) == s }) {
			continue
		}
		r.secrets = append(r.secrets, []byte(s))
		r.maxLen = max(r.maxLen, len(s))
	}
	slices.SortStableFunc(r.secrets, func(a, b []byte) int { return len(b) - len(a) })
	return r
}

// next finds the earliest occurrence of a secret in b from i on (the
// longest secret where several start there): its start and length, or
// -1.
func (r *redactor) next(b []byte, i int) (int, int) {
	at, n := -1, 0
	for _, s := range r.secrets {
		j := bytes.Index(b[i:], s)
		if j >= 0 && (at < 0 || i+j < at) {
			at, n = i+j, len(s)
		}
	}
	return at, n
}

// replace returns b with every occurrence of a secret replaced by
// Redacted, and the index in b from which no secret is replaced (the
// bytes from there on are copied unchanged). When nothing is replaced it
// returns b itself.
func (r *redactor) replace(b []byte) ([]byte, int) {
	if len(r.secrets) == 0 {
		return b, 0
	}
	at, n := r.next(b, 0)
	if at < 0 {
		return b, 0
	}
	out := make([]byte, 0, len(b))
	i := 0
	for at >= 0 {
		out = append(out, b[i:at]...)
		out = append(out, Redacted...)
		i = at + n
		at, n = r.next(b, i)
	}
	return append(out, b[i:]...), len(out)
}

// partialFrom returns the earliest index k from which b[k:] is a proper
// start of a secret (it could be completed by bytes that follow), or
// len(b).
func (r *redactor) partialFrom(b []byte) int {
	for k := max(len(b)-r.maxLen+1, 0); k < len(b); k++ {
		for _, s := range r.secrets {
			if len(b)-k < len(s) && bytes.HasPrefix(s, b[k:]) {
				return k
			}
		}
	}
	return len(b)
}

// all redacts b, which ends here (nothing follows it): every secret, and
// a start of one (minPartial bytes or more) at its end. It returns b
// itself when nothing is redacted.
func (r *redactor) all(b []byte) []byte {
	out, from := r.replace(b)
	if k := from + r.partialFrom(out[from:]); len(out)-k >= minPartial {
		out = append(slices.Clip(out[:k]), Redacted...)
	}
	return slices.Clip(out)
}

// stream redacts bytes that arrive in pieces (the console, one direction
// of a tunnel), so that a secret split across two pieces is still found.
type stream struct {
	held []byte // the raw end of the bytes so far: a possible start of a secret
}

// push takes p and returns the redacted bytes that are safe to record
// now, a new slice: all but a held end that could start a secret.
func (r *redactor) push(s *stream, p []byte) []byte {
	buf := make([]byte, 0, len(s.held)+len(p)) // never p's buffer, which its writer reuses
	buf = append(append(buf, s.held...), p...)
	out, from := r.replace(buf)
	k := from + r.partialFrom(out[from:])
	s.held = bytes.Clone(out[k:])
	return out[:k:k]
}

// flush returns what s still holds, redacted as an end.
func (r *redactor) flush(s *stream) []byte {
	out := r.all(s.held)
	s.held = nil
	return out
}

// frames redacts an NDJSON answer (the exec and testrunner streams):
// every line as bytes, and the base64 "data" field of each frame, which
// carries the command's output.
func (r *redactor) frames(b []byte) []byte {
	b = r.all(b)
	if len(r.secrets) == 0 || !bytes.Contains(b, []byte(`"data"`)) {
		return b
	}
	var out []byte
	changed := false
	for line := range bytes.SplitAfterSeq(b, []byte("\n")) {
		if nl := r.frame(line); nl != nil {
			line, changed = nl, true
		}
		out = append(out, line...)
	}
	if !changed {
		return b
	}
	return out
}

// frame returns line with its "data" field redacted, or nil when it holds
// no secret (or is no JSON object with a base64 "data" string).
func (r *redactor) frame(line []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return nil
	}
	var data []byte
	if raw, ok := m["data"]; !ok || json.Unmarshal(raw, &data) != nil {
		return nil
	}
	red := r.all(data)
	if len(red) == len(data) && bytes.Equal(red, data) {
		return nil
	}
	enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(red))
	m["data"] = enc
	nl, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	if bytes.HasSuffix(line, []byte("\n")) {
		nl = append(nl, '\n')
	}
	return nl
}
