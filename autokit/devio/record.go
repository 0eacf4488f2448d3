package devio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Record wraps an Opener and logs every operation on the devices it opens.
type Record struct {
	// Opener is the real thing (usually Host).
	Opener Opener

	mu  sync.Mutex
	ops []Op
}

var (
	_ Opener   = (*Record)(nil)
	_ FDOpener = (*Record)(nil)
)

// Ops returns a copy of the operations recorded so far.
func (r *Record) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// Save writes the recording to path, with comment lines at its head.
func (r *Record) Save(path string, comment ...string) error {
	b, err := json.MarshalIndent(File{Comment: comment, Ops: r.Ops()}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (r *Record) add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Open implements Opener.
func (r *Record) Open(path string, flag int) (Device, error) {
	d, err := r.Opener.Open(path, flag)
	r.add(Op{Op: OpOpen, Path: path, Flag: flag, Err: errnoName(err)})
	if err != nil {
		return nil, err
	}
	return &recDevice{r: r, path: path, d: d}, nil
}

// OpenFD implements FDOpener; the wrapped Opener must implement it too.
func (r *Record) OpenFD(fd uintptr, name string) (Device, error) {
	fo, ok := r.Opener.(FDOpener)
	if !ok {
		return nil, fmt.Errorf("devio: %T cannot adopt file descriptors", r.Opener)
	}
	d, err := fo.OpenFD(fd, name)
	r.add(Op{Op: OpFD, Path: name, FD: int(fd), Err: errnoName(err)})
	if err != nil {
		return nil, err
	}
	return &recDevice{r: r, path: name, d: d}, nil
}

type recDevice struct {
	r    *Record
	path string
	d    Device
}

func (d *recDevice) Read(p []byte) (int, error) {
	n, err := d.d.Read(p)
	d.r.add(Op{Op: OpRead, Path: d.path, Len: len(p), Data: bytes.Clone(p[:max(n, 0)]), Err: errnoName(err)})
	return n, err
}

func (d *recDevice) Write(p []byte) (int, error) {
	n, err := d.d.Write(p)
	d.r.add(Op{Op: OpWrite, Path: d.path, Data: bytes.Clone(p[:max(n, 0)]), Err: errnoName(err)})
	return n, err
}

func (d *recDevice) Close() error {
	err := d.d.Close()
	d.r.add(Op{Op: OpClose, Path: d.path, Err: errnoName(err)})
	return err
}

func (d *recDevice) Ioctl(req uint, arg []byte, ptrs ...Pointer) error {
	op := Op{Op: OpIoctl, Path: d.path, Req: Req(req), Arg: bytes.Clone(arg)}
	for _, p := range ptrs {
		op.Bufs = append(op.Bufs, Buf{Offset: p.Offset, In: bytes.Clone(p.Buf)})
	}
	err := d.d.Ioctl(req, arg, ptrs...)
	op.Out = bytes.Clone(arg)
	for i, p := range ptrs {
		op.Bufs[i].Out = bytes.Clone(p.Buf)
	}
	op.Err = errnoName(err)
	d.r.add(op)
	return err
}
