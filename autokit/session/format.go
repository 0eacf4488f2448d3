package session

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Recording is one lease's session: its Header and its Events in the
// order they happened.
type Recording struct {
	Header Header
	Events []Event
}

// maxLine bounds one line of a recording when it is read: the biggest
// event is a screenshot or a call's response, each base64-encoded (4/3 of
// its bytes) inside JSON; a line longer than this is refused rather than
// read into memory.
const maxLine = 256 << 20

// Encode writes rec to w: gzip-compressed JSON lines, the Header first
// (its Version set to Version when it is 0), then one Event a line.
func Encode(w io.Writer, rec *Recording) error {
	if rec == nil {
		return errors.New("session: encode: no recording")
	}
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	h := rec.Header
	if h.Version == 0 {
		h.Version = Version
	}
	if err := enc.Encode(&h); err != nil {
		return fmt.Errorf("session: encode the header: %w", err)
	}
	for i := range rec.Events {
		if err := enc.Encode(&rec.Events[i]); err != nil {
			return fmt.Errorf("session: encode event %d: %w", i+1, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("session: encode: %w", err)
	}
	return nil
}

// Read reads a recording Encode wrote. It refuses another Version, and a
// truncated or corrupt file with an error that names the line (the
// header is line 1).
func Read(r io.Reader) (*Recording, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("session: read: not a gzip-compressed recording (%s is one): %w", FileName, err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 64<<10)
	rec := &Recording{}
	for line := 1; ; line++ {
		b, err := readLine(br)
		if err == io.EOF {
			if line == 1 {
				return nil, errors.New("session: read: the recording is empty (no header line)")
			}
			return rec, nil
		}
		if err != nil {
			return nil, fmt.Errorf("session: read line %d: %w (the file is truncated or corrupt; fetch the session again)", line, err)
		}
		if line == 1 {
			if err := decodeLine(b, &rec.Header); err != nil {
				return nil, fmt.Errorf("session: read line 1 (the header): %w", err)
			}
			if rec.Header.Version != Version {
				return nil, fmt.Errorf("session: read: the recording is format version %d, this program reads version %d; use a leviathan built for version %d (or record the session again with this one)",
					rec.Header.Version, Version, rec.Header.Version)
			}
			continue
		}
		var ev Event
		if err := decodeLine(b, &ev); err != nil {
			return nil, fmt.Errorf("session: read line %d: %w", line, err)
		}
		rec.Events = append(rec.Events, ev)
	}
}

// readLine returns the next line without its newline, io.EOF at a clean
// end, or an error for a line cut short (no newline before the end), an
// over-long line or a broken gzip stream.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLine {
			return nil, fmt.Errorf("a line longer than %d MiB", maxLine>>20)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(buf) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, errors.New("the last line ends without a newline")
		default:
			return nil, err
		}
	}
}

// decodeLine decodes one JSON value filling the whole line.
func decodeLine(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// MarshalJSON writes d as milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	ms := float64(d) / float64(time.Millisecond)
	return strconv.AppendFloat(nil, ms, 'f', -1, 64), nil
}

// UnmarshalJSON reads milliseconds (a JSON number).
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("session: a duration is milliseconds, a number: %s", b)
	}
	ns := ms * float64(time.Millisecond)
	if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 {
		return fmt.Errorf("session: duration %s ms is out of range", b)
	}
	*d = Duration(math.Round(ns))
	return nil
}

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }
