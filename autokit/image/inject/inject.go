package inject

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/balena/leviathan-action/autokit/bootpart"
)

// minProbe is the least room worth examining a partition in before
// passing output on to make more.
const minProbe = 1 << 20

// DefaultMemoryLimit is how much of the image a Reader holds in memory at
// most unless WithMemoryLimit says otherwise; the boot partition must fit.
const DefaultMemoryLimit = 512 << 20

// Why a Reader failed. Each is wrapped with what was found.
var (
	// ErrNoPartitionTable: the stream does not start with a GPT or MBR
	// partition table; files go only into a partitioned disk image.
	ErrNoPartitionTable = errors.New("inject: not a disk image: no GPT or MBR partition table at its start")
	// ErrNoFATPartition: no partition of the image holds a FAT filesystem
	// for the files to go into.
	ErrNoFATPartition = errors.New("inject: no FAT boot partition in the image to write the files into")
	// ErrTruncated: the stream ends inside the boot partition.
	ErrTruncated = errors.New("inject: the image ends inside its boot partition")
	// ErrTooLarge: the boot partition, or what must be held to find it,
	// is larger than the memory limit.
	ErrTooLarge = errors.New("inject: over the memory limit")
	// ErrNoSpace: a file does not fit in the boot partition.
	ErrNoSpace = errors.New("inject: no room in the boot partition")
)

// File is a file to write into the boot partition.
type File struct {
	// Name is its path on the FAT filesystem, such as "config.json" or
	// "/loader/entries/dut.conf"; missing directories are created, an
	// existing file is replaced, case is ignored as FAT does.
	Name string
	Data []byte
}

// Option tunes a Reader.
type Option func(*Reader)

// WithMemoryLimit sets how many bytes of the image the Reader may hold in
// memory at once (DefaultMemoryLimit when n <= 0). The boot partition must
// fit in it.
func WithMemoryLimit(n int64) Option {
	return func(r *Reader) {
		if n > 0 {
			r.win.limit = n
		}
	}
}

// WithOutputSHA256 makes the Reader hash its output too (OutputSHA256):
// a second SHA-256 pass over the whole image.
func WithOutputSHA256() Option {
	return func(r *Reader) { r.outHash = sha256.New() }
}

type state int

const (
	stTable state = iota // the partition table is not read yet
	stScan               // examining the partitions in table order
	stSkip               // passing bytes on up to skipTo, then back to resume
	stFill               // the boot partition is found: read it, write the files
	stPass               // the files are written: passing the rest on
	stDone               // io.EOF was returned
)

// Reader is the image with the files written into its boot partition. It
// is not safe for concurrent use.
type Reader struct {
	in       input
	win      window
	files    []File
	outHash  hash.Hash
	out      []byte // bytes ready to be returned
	st       state
	resume   state
	skipTo   int64
	cands    []bootpart.Extent // partitions still to examine, in table order
	examined []bootpart.Extent // partitions found not to hold FAT
	part     bootpart.Partition
	found    bool
	err      error
	inSum    string
	outSum   string
}

// New returns a Reader of the image that src reads (uncompressed), with
// files written into its boot partition. With no files it passes the image
// through, hashing it.
func New(src io.Reader, files []File, opts ...Option) *Reader {
	r := &Reader{in: input{r: src, h: sha256.New()}, files: files}
	r.win = window{in: &r.in, limit: DefaultMemoryLimit}
	for _, o := range opts {
		o(r)
	}
	if len(files) == 0 {
		r.st = stPass
	}
	return r
}

// Read implements io.Reader. It returns io.EOF only once the files are
// written and the whole image was passed on.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(r.out) > 0 {
			n := copy(p, r.out)
			r.out = r.out[n:]
			if len(r.out) == 0 {
				r.out = nil
			}
			r.emit(p[:n])
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		switch r.st {
		case stSkip:
			n := r.in.read(p[:min(int64(len(p)), r.skipTo-r.in.n)])
			if r.in.n == r.skipTo || r.in.eof || r.in.err != nil {
				r.win.base, r.st = r.in.n, r.resume
			}
			if n > 0 {
				r.emit(p[:n])
				return n, nil
			}
		case stPass:
			n := r.in.read(p)
			r.emit(p[:n])
			switch {
			case r.in.err != nil:
				r.err = r.in.err
				return n, r.err
			case r.in.eof:
				r.st = stDone
				r.inSum = hex.EncodeToString(r.in.h.Sum(nil))
				if r.outHash != nil {
					r.outSum = hex.EncodeToString(r.outHash.Sum(nil))
				}
				return n, io.EOF
			case n > 0:
				return n, nil
			}
		case stDone:
			return 0, io.EOF
		default:
			r.err = r.step()
		}
	}
}

// InputSHA256 is the hex SHA-256 of the image as read, before the files
// were written: "" until Read has returned io.EOF.
func (r *Reader) InputSHA256() string { return r.inSum }

// OutputSHA256 is the hex SHA-256 of what Read returned: "" until Read has
// returned io.EOF, or without WithOutputSHA256.
func (r *Reader) OutputSHA256() string { return r.outSum }

// Partition is the boot partition the files are written into, once it is
// found.
func (r *Reader) Partition() (bootpart.Partition, bool) { return r.part, r.found }

func (r *Reader) emit(p []byte) {
	if r.outHash != nil {
		r.outHash.Write(p)
	}
}

// step moves the state machine on: it reads the partition table, examines
// a partition, or writes the files. It may leave bytes in r.out or switch
// to stSkip to pass bytes on first.
func (r *Reader) step() error {
	switch r.st {
	case stTable:
		return r.table()
	case stScan:
		return r.scan()
	case stFill:
		return r.fill()
	}
	return fmt.Errorf("inject: internal error: step in state %d", r.st)
}

// fault is the stream's read error, or the first read the window refused.
func (r *Reader) fault(what string) error {
	if r.in.err != nil {
		return r.in.err
	}
	if r.win.refused != nil {
		return fmt.Errorf("%w: %s: %v, more than the limit of %s", ErrTooLarge, what, r.win.refused, size(r.win.limit))
	}
	return nil
}

func (r *Reader) table() error {
	exts, err := bootpart.Partitions(&r.win)
	if err := r.fault("reading the partition table"); err != nil {
		return err
	}
	if err != nil {
		if r.in.eof && r.in.n < 1024 {
			return fmt.Errorf("%w: the image is only %d bytes", ErrNoPartitionTable, r.in.n)
		}
		// bootpart's own ErrNoPartitionTable says the same: keep its
		// details only.
		detail := strings.TrimPrefix(strings.TrimPrefix(err.Error(), bootpart.ErrNoPartitionTable.Error()), ": ")
		if detail != "" {
			detail = " (" + detail + ")"
		}
		if r.in.eof {
			return fmt.Errorf("%w%s; the image ends at byte %d: is it truncated?", ErrNoPartitionTable, detail, r.in.n)
		}
		return fmt.Errorf("%w%s", ErrNoPartitionTable, detail)
	}
	if len(exts) == 0 {
		return fmt.Errorf("%w: its partition table lists no partitions", ErrNoFATPartition)
	}
	r.cands, r.st = exts, stScan
	return nil
}

// scan examines the next partition in table order.
func (r *Reader) scan() error {
	if len(r.cands) == 0 {
		return r.noFAT()
	}
	c := r.cands[0]
	if c.Start < r.win.base {
		return fmt.Errorf("inject: partition %d starts at byte %d, which was already passed on (at %d): partitions listed out of disk order", c.Index, c.Start, r.win.base)
	}
	// Enough to tell FAT: its boot sector and FATs lie in the partition's
	// first bytes, and a FAT partition larger than the limit fails anyway.
	probe := min(c.Size, r.win.limit)
	var (
		p    bootpart.Partition
		err  error
		done bool
	)
	if room := r.win.limit - (c.Start - r.win.base); room < probe && room >= minProbe {
		// Try with the room there is, holding on to all output: a FAT
		// found so is found, but "no FAT" may only mean its FATs lie
		// past the room.
		if p, err = bootpart.ProbeFAT(&r.win, c.Start, room); err == nil && r.win.refused == nil {
			done = true
		}
		r.win.refused = nil
	}
	if !done && c.Start-r.win.base > r.win.limit-probe {
		// Pass on what no partition still to examine needs.
		lo := c.Start
		for _, o := range r.cands[1:] {
			lo = min(lo, o.Start)
		}
		if lo > r.win.base && !r.in.eof {
			r.advance(lo)
			return nil
		}
	}
	if !done {
		p, err = bootpart.ProbeFAT(&r.win, c.Start, probe)
	}
	if err := r.fault(fmt.Sprintf("examining partition %d (%s at byte %d)", c.Index, size(c.Size), c.Start)); err != nil {
		return err
	}
	r.cands = r.cands[1:]
	if err != nil {
		r.examined = append(r.examined, c)
		return nil
	}
	if c.Size > r.win.limit {
		return fmt.Errorf("%w: boot partition %d (%s) is %s (%d bytes), more than the limit of %s; raise the limit",
			ErrTooLarge, c.Index, strings.ToUpper(p.Type), size(c.Size), c.Size, size(r.win.limit))
	}
	p.Index, p.Start, p.Size = c.Index, c.Start, c.Size
	r.part, r.found = p, true
	r.cands, r.st = nil, stFill
	return nil
}

// fill reads the boot partition and writes the files into it.
func (r *Reader) fill() error {
	c := r.part
	end := c.Start + c.Size
	if end-r.win.base > r.win.limit && c.Start > r.win.base && !r.in.eof {
		r.advance(c.Start)
		return nil
	}
	r.win.fill(end)
	if err := r.fault(fmt.Sprintf("reading partition %d", c.Index)); err != nil {
		return err
	}
	if r.win.end() < end {
		return fmt.Errorf("%w: it ends at byte %d, and partition %d (%s) spans bytes %d-%d: the image is truncated; fetch it again",
			ErrTruncated, r.win.end(), c.Index, strings.ToUpper(c.Type), c.Start, end-1)
	}
	for _, f := range r.files {
		if err := bootpart.WriteFileAt(&r.win, c.Start, c.Size, f.Name, f.Data); err != nil {
			where := fmt.Sprintf("partition %d (%s %q, %s)", c.Index, strings.ToUpper(c.Type), c.Label, size(c.Size))
			if strings.Contains(err.Error(), "no space left") {
				return fmt.Errorf("%w: %s (%d bytes, with the files before it) does not fit in %s: %w", ErrNoSpace, f.Name, len(f.Data), where, err)
			}
			return fmt.Errorf("inject: writing %s into %s: %w", f.Name, where, err)
		}
	}
	if err := r.fault("writing the files"); err != nil {
		return err
	}
	r.out = r.win.take(int64(len(r.win.buf)))
	r.st = stPass
	return nil
}

// advance passes on the bytes before to: those held now, and then (in
// stSkip) those the stream has not yet given. The stream must not have
// ended: there would be nothing to pass on, and no progress.
func (r *Reader) advance(to int64) {
	r.out = r.win.take(min(to, r.win.end()) - r.win.base)
	if to > r.win.base {
		r.resume, r.skipTo, r.st = r.st, to, stSkip
	}
}

// noFAT says which partitions were examined, and whether the image ended
// before one of them did.
func (r *Reader) noFAT() error {
	var parts []string
	var short *bootpart.Extent
	for i, c := range r.examined {
		parts = append(parts, fmt.Sprintf("%d (bytes %d-%d)", c.Index, c.Start, c.Start+c.Size-1))
		if r.in.eof && short == nil && c.Start+c.Size > r.in.n {
			short = &r.examined[i]
		}
	}
	if short != nil {
		return fmt.Errorf("%w: none of its partitions holds FAT (examined: %s); the image ends at byte %d, before the end of partition %d: is it truncated?",
			ErrNoFATPartition, strings.Join(parts, ", "), r.in.n, short.Index)
	}
	return fmt.Errorf("%w: none of its partitions holds FAT (examined: %s)", ErrNoFATPartition, strings.Join(parts, ", "))
}

// size writes n bytes for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
