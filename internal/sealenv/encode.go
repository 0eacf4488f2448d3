package sealenv

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// header starts every payload; the format's version is in it.
const header = "sealenv/1\x00"

// encode writes the header, one NAME=VALUE entry per variable (sorted by
// name), each ended by a NUL, and an empty entry that marks the end. Names
// and values cannot hold NULs (nor can an environment), and names cannot
// hold '='; the error names the variable, never its value.
func encode(vars map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString(header)
	for _, k := range keys {
		v := vars[k]
		if !validName(k) {
			return nil, fmt.Errorf("%w: variable name %q", ErrMalformed, k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("%w: %s holds a NUL byte", ErrMalformed, k)
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte(0)
	}
	b.WriteByte(0)
	return b.Bytes(), nil
}

// decode reads what encode wrote; a payload without its header, cut short
// or with anything after its end is refused.
func decode(b []byte) (map[string]string, error) {
	rest, ok := bytes.CutPrefix(b, []byte(header))
	if !ok {
		return nil, fmt.Errorf("%w: no %q header", ErrMalformed, strings.TrimSuffix(header, "\x00"))
	}
	out := map[string]string{}
	for i := 1; ; i++ {
		entry, after, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			return nil, fmt.Errorf("%w: cut short in entry %d", ErrMalformed, i)
		}
		rest = after
		if len(entry) == 0 {
			if len(rest) != 0 {
				return nil, fmt.Errorf("%w: %d bytes after the end", ErrMalformed, len(rest))
			}
			return out, nil
		}
		name, value, ok := strings.Cut(string(entry), "=")
		if !ok || !validName(name) {
			return nil, fmt.Errorf("%w: entry %d is not NAME=VALUE", ErrMalformed, i)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: %s given twice", ErrMalformed, name)
		}
		out[name] = value
	}
}

func validName(n string) bool {
	return n != "" && !strings.ContainsAny(n, "=\x00")
}
