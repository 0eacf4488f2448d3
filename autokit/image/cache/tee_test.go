package cache

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTee(t *testing.T) {
	data := blob(256<<10+11, 5)
	other := sumOf([]byte("other"))
	readAll := func(r io.Reader) ([]byte, error) { return io.ReadAll(r) }
	isMismatch := func(err error) bool {
		var me *MismatchError
		return errors.As(err, &me) && me.Want == other && me.Got == sumOf(data)
	}
	isNotDrained := func(err error) bool { return errors.Is(err, ErrNotDrained) }
	tests := []struct {
		name    string
		max     int64
		src     func() io.Reader
		want    string
		read    func(io.Reader) ([]byte, error) // what the consumer does
		pass    []byte                          // what it should get
		wantErr func(error) bool                // nil: commit succeeds
	}{
		{
			name: "drained",
			src:  func() io.Reader { return bytes.NewReader(data) },
			read: readAll, pass: data,
		},
		{
			name: "drained verified",
			src:  func() io.Reader { return bytes.NewReader(data) },
			want: sumOf(data), read: readAll, pass: data,
		},
		{
			name: "mismatch",
			src:  func() io.Reader { return bytes.NewReader(data) },
			want: other, read: readAll, pass: data, wantErr: isMismatch,
		},
		{
			name: "abort after a few bytes",
			src:  func() io.Reader { return bytes.NewReader(data) },
			read: func(r io.Reader) ([]byte, error) {
				b := make([]byte, 10)
				_, err := io.ReadFull(r, b)
				return b, err
			},
			pass: data[:10], wantErr: isNotDrained,
		},
		{
			name: "abort before reading",
			src:  func() io.Reader { return bytes.NewReader(data) },
			read: func(io.Reader) ([]byte, error) { return nil, nil },
			pass: nil, wantErr: isNotDrained,
		},
		{
			// Every byte was read but io.EOF was never seen: the
			// consumer must drain to the end.
			name: "all bytes without EOF",
			src:  func() io.Reader { return bytes.NewReader(data) },
			read: func(r io.Reader) ([]byte, error) {
				b := make([]byte, len(data))
				_, err := io.ReadFull(r, b)
				return b, err
			},
			pass: data, wantErr: isNotDrained,
		},
		{
			name: "source fails",
			src:  func() io.Reader { return &failReader{n: 100} },
			read: func(r io.Reader) ([]byte, error) {
				b, err := io.ReadAll(r)
				if err == nil {
					return b, errors.New("want a read error")
				}
				return b, nil
			},
			pass:    make([]byte, 100),
			wantErr: func(err error) bool { return strings.Contains(err.Error(), "connection reset") },
		},
		{
			name: "larger than the cache passes through",
			max:  64 << 10,
			src:  func() io.Reader { return bytes.NewReader(data) },
			read: readAll, pass: data,
			wantErr: func(err error) bool { return errors.Is(err, ErrTooLarge) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			max := tt.max
			if max == 0 {
				max = 1 << 30
			}
			c := open(t, dir, max)
			r, commit := c.Tee(tt.src(), tt.want)
			got, err := tt.read(r)
			if err != nil {
				t.Fatalf("consumer: %v", err)
			}
			if !bytes.Equal(got, tt.pass) {
				t.Fatalf("passed %d bytes; want %d unchanged", len(got), len(tt.pass))
			}
			sum, err := commit()
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("commit error = %v; want a different one", err)
				}
				if sum != "" {
					t.Errorf("commit sum = %q on error; want empty", sum)
				}
				if !strings.HasPrefix(err.Error(), "cache: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				assertEmpty(t, c, dir)
				return
			}
			if err != nil {
				t.Fatalf("commit: %v", err)
			}
			if sum != sumOf(data) {
				t.Fatalf("commit sum = %s; want %s", sum, sumOf(data))
			}
			if b, ok := get(t, c, sum); !ok || !bytes.Equal(b, data) {
				t.Fatalf("Get after commit: ok %v, %d bytes", ok, len(b))
			}
			if left := tmpFiles(t, dir); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

func TestTeeCommitTwice(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	r, commit := c.Tee(strings.NewReader("hello"), "")
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if _, err := commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if _, err := commit(); err == nil {
		t.Errorf("second commit succeeded; want an error")
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d; want 1", c.Len())
	}
}

func TestTeeReadAfterAbort(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	r, commit := c.Tee(strings.NewReader("hello world"), "")
	b := make([]byte, 5)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	if _, err := commit(); !errors.Is(err, ErrNotDrained) {
		t.Fatalf("commit error = %v; want ErrNotDrained", err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != " world" {
		t.Errorf("reading after abort = %q, %v; want the rest passed through", rest, err)
	}
	assertEmpty(t, c, dir)
}

func TestTeeAbandoned(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	func() {
		r, _ := c.Tee(strings.NewReader("never committed"), "")
		if _, err := io.CopyN(io.Discard, r, 3); err != nil {
			t.Fatal(err)
		}
	}()
	if len(tmpFiles(t, dir)) != 1 {
		t.Fatalf("want one temp file while the tee is alive")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(tmpFiles(t, dir)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("temp file of an abandoned tee not removed after GC")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	assertEmpty(t, c, dir)
}
