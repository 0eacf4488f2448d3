package image

import (
	"errors"
	"fmt"
	"io"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Sizes MarkDirty wipes.
const (
	// DirtyHead is wiped at the start of the target: the MBR, the primary
	// GPT header and its partition entries, and the space before the first
	// partition where boot loaders live.
	DirtyHead = 1 << 20
	// DirtyTail is wiped at the end of the target when its size is known:
	// the backup GPT (its header and 16 KiB of entries: 33 sectors of 512
	// bytes, 5 of 4096), rounded up to 64 KiB.
	DirtyTail = 64 << 10
)

// DirtyError is the error of a flash that failed after writing to the
// target had started. Its message ends by saying whether the target was
// marked dirty.
type DirtyError struct {
	// Err is why the flash failed.
	Err error
	// MarkErr is why marking the target dirty failed too; nil when the
	// partition tables were wiped.
	MarkErr error
}

// Error implements error.
func (e *DirtyError) Error() string {
	if e.MarkErr != nil {
		return fmt.Sprintf("%v; marking the target dirty failed too, it may hold a half-written image that looks bootable: %v", e.Err, e.MarkErr)
	}
	return fmt.Sprintf("%v; the target was marked dirty (partition table wiped)", e.Err)
}

// Unwrap returns Err.
func (e *DirtyError) Unwrap() error { return e.Err }

// dirty marks dst dirty after err and wraps err in a *DirtyError.
func dirty(dst dut.Target, capacity int64, err error) error {
	return &DirtyError{Err: err, MarkErr: MarkDirty(dst, capacity)}
}

// MarkDirty makes a half-written target unbootable instead of
// plausible: it writes zeros over its first DirtyHead bytes (all the
// partition tables a disk image starts with) and, when the target's size
// is known (size > 0, or else the size a Seek to its end reports), its
// last DirtyTail bytes (the backup GPT), then syncs. A regular file
// target is not grown: only its existing bytes are wiped. It does its
// best and returns the first error.
func MarkDirty(dst dut.Target, size int64) error {
	if size <= 0 {
		if end, err := dst.Seek(0, io.SeekEnd); err == nil {
			size = end
		}
	}
	head := int64(DirtyHead)
	if size > 0 {
		head = min(head, size)
	}
	var errs []error
	zero := make([]byte, head)
	if _, err := dst.WriteAt(zero, 0); err != nil {
		errs = append(errs, fmt.Errorf("wiping the first %d bytes: %w", head, err))
	}
	if size > head {
		tail := min(int64(DirtyTail), size-head)
		if _, err := dst.WriteAt(zero[:tail], size-tail); err != nil {
			errs = append(errs, fmt.Errorf("wiping the last %d bytes: %w", tail, err))
		}
	}
	if err := dst.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("syncing: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("image: marking the target dirty: %w", errors.Join(errs...))
	}
	return nil
}
