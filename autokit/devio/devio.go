package devio

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Device is an opened device node: what the drivers need of a file.
type Device interface {
	io.ReadWriteCloser
	// Ioctl issues request req with arg as its in/out argument. ptrs are
	// the pointers inside arg: each is written at its offset (as a 64-bit
	// address) before the call and zeroed again after it, so arg never
	// carries an address back to the caller.
	Ioctl(req uint, arg []byte, ptrs ...Pointer) error
}

// Pointer is a pointer field inside an ioctl argument: the field's byte
// offset and the buffer it points to. An empty Buf is a NULL pointer.
type Pointer struct {
	Offset int
	Buf    []byte
}

// Opener opens device nodes.
type Opener interface {
	// Open opens path with os.OpenFile flags (os.O_RDWR, …).
	Open(path string, flag int) (Device, error)
}

// FDOpener adopts a file descriptor that an ioctl returned (a GPIO line
// request) as a Device; name identifies it in recordings and errors.
type FDOpener interface {
	OpenFD(fd uintptr, name string) (Device, error)
}

// Kinds of operation.
const (
	OpOpen  = "open"
	OpFD    = "fd"
	OpRead  = "read"
	OpWrite = "write"
	OpIoctl = "ioctl"
	OpClose = "close"
)

// Op is one recorded operation.
type Op struct {
	Op   string `json:"op"`
	Path string `json:"path"` // the device the operation is on
	// Flag is the open flags (open).
	Flag int `json:"flag,omitempty"`
	// FD is the adopted descriptor (fd).
	FD int `json:"fd,omitempty"`
	// Len is the buffer length the caller offered (read).
	Len int `json:"len,omitempty"`
	// Data is the bytes written (write) or returned (read).
	Data Hex `json:"data,omitempty"`
	// Req is the ioctl request number.
	Req Req `json:"req,omitempty"`
	// Arg and Out are the ioctl argument before and after the call,
	// pointer slots zeroed.
	Arg Hex `json:"arg,omitempty"`
	Out Hex `json:"out,omitempty"`
	// Bufs are the buffers the argument points to.
	Bufs []Buf `json:"bufs,omitempty"`
	// Err is the errno name when the operation failed ("EACCES").
	Err string `json:"err,omitempty"`
	// Note is free text for people reading the recording.
	Note string `json:"note,omitempty"`
}

// Buf is one buffer an ioctl argument points to, before and after the call.
type Buf struct {
	Offset int `json:"offset"`
	In     Hex `json:"in,omitempty"`
	Out    Hex `json:"out,omitempty"`
}

// File is a recording as stored in testdata.
type File struct {
	// Comment says where the recording came from: captured on which
	// hardware, or authored from which documentation.
	Comment []string `json:"comment,omitempty"`
	Ops     []Op     `json:"ops"`
}

func (o Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", o.Op, o.Path)
	switch o.Op {
	case OpOpen:
		fmt.Fprintf(&b, " flag %#x", o.Flag)
	case OpFD:
		fmt.Fprintf(&b, " fd %d", o.FD)
	case OpRead:
		fmt.Fprintf(&b, " len %d", o.Len)
	case OpWrite:
		fmt.Fprintf(&b, " [%s]", o.Data)
	case OpIoctl:
		fmt.Fprintf(&b, " %s arg [%s]", o.Req, o.Arg)
		for _, p := range o.Bufs {
			fmt.Fprintf(&b, " *%d=[%s]", p.Offset, p.In)
		}
	}
	if o.Err != "" {
		fmt.Fprintf(&b, " -> %s", o.Err)
	}
	return b.String()
}

// Hex is bytes written in JSON as hex pairs separated by spaces; a token
// "00*N" stands for N zero bytes, so long zeroed structures stay readable.
type Hex []byte

func (h Hex) String() string {
	var toks []string
	for i := 0; i < len(h); {
		j := i
		for j < len(h) && h[j] == 0 {
			j++
		}
		if j-i >= 8 {
			toks = append(toks, fmt.Sprintf("00*%d", j-i))
			i = j
			continue
		}
		toks = append(toks, hex.EncodeToString(h[i:i+1]))
		i++
	}
	return strings.Join(toks, " ")
}

// MarshalJSON writes h as a hex string.
func (h Hex) MarshalJSON() ([]byte, error) { return json.Marshal(h.String()) }

// UnmarshalJSON reads a hex string.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseHex(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHex reads the Hex notation: hex digits (pairs may be run together
// or separated by spaces) and "00*N" runs of zeros.
func ParseHex(s string) (Hex, error) {
	v := Hex{}
	for _, tok := range strings.Fields(s) {
		if n, ok := strings.CutPrefix(tok, "00*"); ok {
			k, err := strconv.Atoi(n)
			if err != nil || k < 0 {
				return nil, fmt.Errorf("devio: bad zero run %q in %q", tok, s)
			}
			v = append(v, make([]byte, k)...)
			continue
		}
		b, err := hex.DecodeString(tok)
		if err != nil {
			return nil, fmt.Errorf("devio: bad hex %q in %q: %w", tok, s, err)
		}
		v = append(v, b...)
	}
	return v, nil
}

// Req is an ioctl request number, written in hex in JSON.
type Req uint

func (r Req) String() string { return fmt.Sprintf("ioctl %#x", uint(r)) }

// MarshalJSON writes r as "0x…".
func (r Req) MarshalJSON() ([]byte, error) { return json.Marshal(fmt.Sprintf("%#x", uint(r))) }

// UnmarshalJSON reads "0x…" or a number.
func (r *Req) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n uint
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*r = Req(n)
		return nil
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return fmt.Errorf("devio: bad ioctl number %q: %w", s, err)
	}
	*r = Req(n)
	return nil
}

// errnoName is the recorded form of err: its errno name, or its text.
func errnoName(err error) string {
	if err == nil {
		return ""
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return "errno " + strconv.Itoa(int(e))
	}
	return err.Error()
}

// errnoValue turns a recorded errno name back into an error.
func errnoValue(name string) error {
	if name == "" {
		return nil
	}
	for e := syscall.Errno(1); e < 200; e++ {
		if unix.ErrnoName(e) == name {
			return e
		}
	}
	if n, ok := strings.CutPrefix(name, "errno "); ok {
		if v, err := strconv.Atoi(n); err == nil {
			return syscall.Errno(v)
		}
	}
	return errors.New(name)
}
