package devio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// Playback replays a recording. Every operation a driver issues must match
// the next recorded one exactly (kind, device, flags, bytes); the recorded
// results are handed back. A mismatch fails that call with a *MismatchError
// and is remembered, so Done reports it even when the driver swallowed the
// error; Done also reports recorded operations left unused.
type Playback struct {
	// Name identifies the recording in errors (its file name).
	Name string
	// Ops are the operations to expect, in order.
	Ops []Op

	mu   sync.Mutex
	next int
	errs []error
}

var (
	_ Opener   = (*Playback)(nil)
	_ FDOpener = (*Playback)(nil)
)

// Load reads a recording file.
func Load(path string) (*Playback, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devio: %w", err)
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("devio: %s: %w", path, err)
	}
	return &Playback{Name: path, Ops: f.Ops}, nil
}

// MismatchError is an operation the recording did not expect.
type MismatchError struct {
	Recording string
	Index     int // position in the recording (0-based)
	Got       Op  // what the driver did
	Want      *Op // what was recorded there; nil past its end
	Detail    string
}

func (e *MismatchError) Error() string {
	if e.Want == nil {
		return fmt.Sprintf("devio: %s: unexpected operation #%d (the recording has only %d): %s", e.Recording, e.Index, e.Index, e.Got)
	}
	return fmt.Sprintf("devio: %s: operation #%d: %s\n\tgot:  %s\n\twant: %s", e.Recording, e.Index, e.Detail, e.Got, *e.Want)
}

// Done reports the first mismatch, if any, and recorded operations left
// unused.
func (p *Playback) Done() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs := append([]error(nil), p.errs...)
	if p.next < len(p.Ops) {
		errs = append(errs, fmt.Errorf("devio: %s: %d recorded operations unused, from #%d: %s", p.Name, len(p.Ops)-p.next, p.next, p.Ops[p.next]))
	}
	return errors.Join(errs...)
}

// take matches got against the next recorded operation.
func (p *Playback) take(got Op, match func(want Op) string) (Op, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.next
	if i >= len(p.Ops) {
		err := &MismatchError{Recording: p.Name, Index: i, Got: got}
		p.errs = append(p.errs, err)
		return Op{}, err
	}
	want := p.Ops[i]
	detail := ""
	switch {
	case want.Op != got.Op:
		detail = fmt.Sprintf("got %s, want %s", got.Op, want.Op)
	case want.Path != got.Path:
		detail = fmt.Sprintf("got device %s, want %s", got.Path, want.Path)
	default:
		detail = match(want)
	}
	if detail != "" {
		err := &MismatchError{Recording: p.Name, Index: i, Got: got, Want: &want, Detail: detail}
		p.errs = append(p.errs, err)
		return Op{}, err
	}
	p.next++
	return want, nil
}

// diffBytes describes how got differs from want, or "" when equal.
func diffBytes(what string, got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%s is %d bytes, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("%s differs at byte %d: %#02x, want %#02x", what, i, got[i], want[i])
		}
	}
	return ""
}

// Open implements Opener.
func (p *Playback) Open(path string, flag int) (Device, error) {
	want, err := p.take(Op{Op: OpOpen, Path: path, Flag: flag}, func(want Op) string {
		if want.Flag != flag {
			return fmt.Sprintf("open flags %#x, want %#x", flag, want.Flag)
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	if want.Err != "" {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errnoValue(want.Err)}
	}
	return &playDevice{p: p, path: path}, nil
}

// OpenFD implements FDOpener.
func (p *Playback) OpenFD(fd uintptr, name string) (Device, error) {
	want, err := p.take(Op{Op: OpFD, Path: name, FD: int(fd)}, func(want Op) string {
		if want.FD != int(fd) {
			return fmt.Sprintf("fd %d, want %d", fd, want.FD)
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	if want.Err != "" {
		return nil, errnoValue(want.Err)
	}
	return &playDevice{p: p, path: name}, nil
}

type playDevice struct {
	p      *Playback
	path   string
	closed bool
}

func (d *playDevice) Read(b []byte) (int, error) {
	want, err := d.p.take(Op{Op: OpRead, Path: d.path, Len: len(b)}, func(want Op) string {
		if len(b) < len(want.Data) {
			return fmt.Sprintf("read buffer of %d bytes, the recording returns %d", len(b), len(want.Data))
		}
		return ""
	})
	if err != nil {
		return 0, err
	}
	n := copy(b, want.Data)
	return n, errnoValue(want.Err)
}

func (d *playDevice) Write(b []byte) (int, error) {
	want, err := d.p.take(Op{Op: OpWrite, Path: d.path, Data: bytes.Clone(b)}, func(want Op) string {
		return diffBytes("written data", b, want.Data)
	})
	if err != nil {
		return 0, err
	}
	if want.Err != "" {
		return len(want.Data), errnoValue(want.Err)
	}
	return len(b), nil
}

func (d *playDevice) Close() error {
	if d.closed {
		return fs.ErrClosed
	}
	want, err := d.p.take(Op{Op: OpClose, Path: d.path}, func(Op) string { return "" })
	if err != nil {
		return err
	}
	d.closed = true
	return errnoValue(want.Err)
}

func (d *playDevice) Ioctl(req uint, arg []byte, ptrs ...Pointer) error {
	got := Op{Op: OpIoctl, Path: d.path, Req: Req(req), Arg: bytes.Clone(arg)}
	for _, p := range ptrs {
		got.Bufs = append(got.Bufs, Buf{Offset: p.Offset, In: bytes.Clone(p.Buf)})
	}
	want, err := d.p.take(got, func(want Op) string {
		if want.Req != Req(req) {
			return fmt.Sprintf("got %s, want %s", Req(req), want.Req)
		}
		if s := diffBytes("argument", arg, want.Arg); s != "" {
			return s
		}
		if len(want.Bufs) != len(ptrs) {
			return fmt.Sprintf("%d pointed-to buffers, want %d", len(ptrs), len(want.Bufs))
		}
		for i, p := range ptrs {
			w := want.Bufs[i]
			if w.Offset != p.Offset {
				return fmt.Sprintf("pointer %d at offset %d, want %d", i, p.Offset, w.Offset)
			}
			if s := diffBytes(fmt.Sprintf("buffer at offset %d", p.Offset), p.Buf, w.In); s != "" {
				return s
			}
		}
		return ""
	})
	if err != nil {
		return err
	}
	if want.Out != nil {
		if len(want.Out) != len(arg) {
			return d.p.fail(fmt.Errorf("devio: %s: %s: recorded output argument is %d bytes, the caller's %d", d.p.Name, want.Req, len(want.Out), len(arg)))
		}
		copy(arg, want.Out)
	}
	for i, p := range ptrs {
		if out := want.Bufs[i].Out; out != nil {
			if len(out) != len(p.Buf) {
				return d.p.fail(fmt.Errorf("devio: %s: %s: recorded output buffer at offset %d is %d bytes, the caller's %d", d.p.Name, want.Req, p.Offset, len(out), len(p.Buf)))
			}
			copy(p.Buf, out)
		}
	}
	return errnoValue(want.Err)
}

func (p *Playback) fail(err error) error {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
	return err
}
