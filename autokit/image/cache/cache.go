package cache

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

const (
	blobDir  = "sha256"
	noteDir  = "decompressed-sha256"
	tmpDir   = "tmp"
	lockName = "lock"
	chunk    = 1 << 20 // read size of Put
)

var (
	// ErrBadSum is wrapped by the error for a digest that is not 64
	// lowercase hex digits.
	ErrBadSum = errors.New("cache: bad sum")
	// ErrTooLarge is wrapped by the error for an entry larger than the
	// whole cache.
	ErrTooLarge = errors.New("cache: entry larger than the cache")
	// ErrNotDrained is wrapped by the error a Tee commit returns when the
	// reader did not reach the end of its source.
	ErrNotDrained = errors.New("cache: tee reader not drained")

	// errLocked is returned by a non-blocking flock on a locked file.
	errLocked = errors.New("cache: file locked")
)

// MismatchError reports content whose SHA-256 is not the one expected.
// Nothing is cached when it is returned.
type MismatchError struct {
	Want string // the digest asked for
	Got  string // the digest of the bytes read
}

var _ error = (*MismatchError)(nil)

// Error implements error.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("cache: sha256 mismatch: want %s, got %s", e.Want, e.Got)
}

// Option configures a Cache.
type Option func(*Cache)

// WithLogger sends the cache's logs (entries added, evicted, removed and
// best-effort operations that failed) to log; the cache is silent without
// one.
func WithLogger(log *slog.Logger) Option {
	return func(c *Cache) {
		if log != nil {
			c.log = log
		}
	}
}

// entry is what the index knows of one cached file.
type entry struct {
	size int64
	used time.Time // recency: the file's mtime
}

// Cache is a size-bounded, content-addressed store of blobs on disk with
// least-recently-used eviction. It is safe for concurrent use; see the
// package documentation for sharing a directory between processes.
type Cache struct {
	dir string
	max int64
	log *slog.Logger

	mu      sync.Mutex
	entries map[string]entry
	total   int64
	last    time.Time // latest recency handed out, for a strict order
}

// Open opens the cache in dir, creating the directory if needed, and
// limits it to maxBytes of entries. It recovers the entries and their
// recency from the files under dir/sha256, removes files abandoned in
// dir/tmp (those still locked by a writer in another process are kept),
// and evicts entries if the directory holds more than maxBytes.
func Open(dir string, maxBytes int64, opts ...Option) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("cache: no directory")
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("cache: maxBytes must be positive, not %d", maxBytes)
	}
	c := &Cache{
		dir:     dir,
		max:     maxBytes,
		log:     slog.New(slog.DiscardHandler),
		entries: map[string]entry{},
	}
	for _, o := range opts {
		o(c)
	}
	for _, d := range []string{blobDir, noteDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cache: open: %w", err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.lockDir()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := c.cleanTmp(); err != nil {
		return nil, err
	}
	if err := c.rescanLocked(); err != nil {
		return nil, err
	}
	for _, e := range c.entries {
		if e.used.After(c.last) {
			c.last = e.used
		}
	}
	c.evictLocked("")
	c.log.Debug("cache: opened", "dir", dir, "entries", len(c.entries), "bytes", c.total, "max", maxBytes)
	return c, nil
}

// Get opens the entry whose SHA-256 is sum for reading and marks it as
// the most recently used. On a miss it returns ok false and no error. The
// caller closes f. A sum that is not 64 lowercase hex digits is an error
// wrapping ErrBadSum.
func (c *Cache) Get(sum string) (f *os.File, size int64, ok bool, err error) {
	if err := checkSum(sum); err != nil {
		return nil, 0, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err = os.Open(c.blobPath(sum))
	if errors.Is(err, fs.ErrNotExist) {
		c.forgetLocked(sum) // removed by another process
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("cache: get: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, false, fmt.Errorf("cache: get: %w", err)
	}
	used := c.stampLocked()
	if err := os.Chtimes(f.Name(), used, used); err != nil {
		// The entry is still served; only its recency on disk is stale.
		c.log.Warn("cache: cannot mark entry used", "sum", sum, "err", err)
	}
	c.forgetLocked(sum)
	c.entries[sum] = entry{size: fi.Size(), used: used}
	c.total += fi.Size()
	return f, fi.Size(), true, nil
}

// Put copies r into the cache and returns the SHA-256 and size of what it
// read. When want is not empty and differs from the digest, Put caches
// nothing and returns a *MismatchError. The entry is added atomically (a
// concurrent Put of the same content is harmless), then least recently
// used entries other than this one are evicted until the cache holds at
// most maxBytes. Content larger than maxBytes is refused as soon as more
// than maxBytes bytes have been read, with an error wrapping ErrTooLarge.
// When ctx is done, or on any error, the partial file is removed.
func (c *Cache) Put(ctx context.Context, r io.Reader, want string) (sum string, size int64, err error) {
	if want != "" {
		if err := checkSum(want); err != nil {
			return "", 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("cache: put: %w", err)
	}
	p, err := c.newPending("put-*")
	if err != nil {
		return "", 0, err
	}
	buf := make([]byte, chunk)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := p.write(buf[:n]); err != nil {
				p.discard()
				return "", 0, err
			}
		}
		if err := ctx.Err(); err != nil {
			p.discard()
			return "", 0, fmt.Errorf("cache: put: %w", err)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			p.discard()
			return "", 0, fmt.Errorf("cache: put: read: %w", rerr)
		}
	}
	return c.commit(p, want)
}

// Remove deletes the entry whose SHA-256 is sum. Removing an entry that is
// not cached is not an error. A file already returned by Get stays
// readable until closed.
func (c *Cache) Remove(sum string) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.lockDir()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(c.blobPath(sum)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache: remove: %w", err)
	}
	c.removeNote(sum)
	c.forgetLocked(sum)
	c.log.Debug("cache: removed", "sum", sum)
	return nil
}

// Size returns the total size in bytes of the cached entries.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Len returns the number of cached entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// commit finishes p: it checks the digest against want, then renames the
// file into place and evicts. p is closed in every case.
func (c *Cache) commit(p *pending, want string) (string, int64, error) {
	sum := hex.EncodeToString(p.h.Sum(nil))
	if want != "" && sum != want {
		p.discard()
		return "", 0, &MismatchError{Want: want, Got: sum}
	}
	// Sync outside the locks: it can take a while for a large image.
	if err := p.f.Sync(); err != nil {
		p.discard()
		return "", 0, fmt.Errorf("cache: sync: %w", err)
	}
	if err := p.f.Chmod(0o444); err != nil {
		p.discard()
		return "", 0, fmt.Errorf("cache: chmod: %w", err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.lockDir()
	if err != nil {
		p.discard()
		return "", 0, err
	}
	defer unlock()
	used := c.stampLocked()
	if err := os.Chtimes(p.path, used, used); err != nil {
		c.log.Warn("cache: cannot set recency", "sum", sum, "err", err)
	}
	// p's file stays open, and so locked, until it is renamed: another
	// process opening the cache must not take it for abandoned.
	if err := os.Rename(p.path, c.blobPath(sum)); err != nil {
		p.discard()
		return "", 0, fmt.Errorf("cache: commit: %w", err)
	}
	p.close()
	if err := c.rescanLocked(); err != nil {
		c.log.Warn("cache: rescan failed", "err", err)
	}
	c.forgetLocked(sum)
	c.entries[sum] = entry{size: p.n, used: used}
	c.total += p.n
	c.log.Debug("cache: added", "sum", sum, "size", p.n)
	c.evictLocked(sum)
	return sum, p.n, nil
}

// evictLocked removes least recently used entries other than keep until
// the total is at most the bound. Failures are logged: the entry that was
// being added is cached all the same.
func (c *Cache) evictLocked(keep string) {
	if c.total <= c.max {
		return
	}
	sums := make([]string, 0, len(c.entries))
	for s := range c.entries {
		if s != keep {
			sums = append(sums, s)
		}
	}
	slices.SortFunc(sums, func(a, b string) int {
		if d := c.entries[a].used.Compare(c.entries[b].used); d != 0 {
			return d
		}
		return cmp.Compare(a, b)
	})
	for _, s := range sums {
		if c.total <= c.max {
			return
		}
		if err := os.Remove(c.blobPath(s)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("cache: cannot evict", "sum", s, "err", err)
			continue
		}
		c.removeNote(s)
		c.log.Debug("cache: evicted", "sum", s, "size", c.entries[s].size)
		c.forgetLocked(s)
	}
}

// rescanLocked rebuilds the index from the files under sha256/, keeping
// the later of the file's mtime and the recency this process recorded
// (which may be finer than the filesystem's timestamps).
func (c *Cache) rescanLocked() error {
	des, err := os.ReadDir(filepath.Join(c.dir, blobDir))
	if err != nil {
		return fmt.Errorf("cache: scan: %w", err)
	}
	entries := make(map[string]entry, len(des))
	var total int64
	for _, de := range des {
		name := de.Name()
		if checkSum(name) != nil || !de.Type().IsRegular() {
			c.log.Debug("cache: ignoring stray file", "name", name)
			continue
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // evicted by another process meanwhile
		}
		if err != nil {
			return fmt.Errorf("cache: scan: %w", err)
		}
		e := entry{size: fi.Size(), used: fi.ModTime()}
		if old, ok := c.entries[name]; ok && old.used.After(e.used) {
			e.used = old.used
		}
		entries[name] = e
		total += e.size
	}
	c.entries, c.total = entries, total
	return nil
}

// cleanTmp removes files left in tmp/ by writers that are gone. A writer
// holds a flock on its file, so files being written by another process
// are skipped.
func (c *Cache) cleanTmp() error {
	dir := filepath.Join(c.dir, tmpDir)
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cache: scan: %w", err)
	}
	for _, de := range des {
		path := filepath.Join(dir, de.Name())
		if de.Type().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				continue
			}
			err = flock(f, false)
			f.Close()
			if errors.Is(err, errLocked) {
				continue
			}
		}
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("cache: clean: %w", err)
		}
		c.log.Debug("cache: removed partial file", "name", de.Name())
	}
	return nil
}

// lockDir takes the directory's flock, held around every index change and
// around creating temp files. The returned func releases it.
func (c *Cache) lockDir() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache: lock: %w", err)
	}
	if err := flock(f, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// forgetLocked drops sum from the index.
func (c *Cache) forgetLocked(sum string) {
	if e, ok := c.entries[sum]; ok {
		c.total -= e.size
		delete(c.entries, sum)
	}
}

// stampLocked returns a recency later than any this cache handed out or
// found at Open, so that the order is strict within the process.
func (c *Cache) stampLocked() time.Time {
	t := time.Now().Round(0)
	if !t.After(c.last) {
		t = c.last.Add(time.Nanosecond)
	}
	c.last = t
	return t
}

// SetDecompressedSHA256 records, next to the entry sum, the SHA-256 of
// the image it decompresses to (as a successful flash computed it), so
// that a later flash expecting another image can be refused before the
// target is touched. It fails when sum is not cached.
func (c *Cache) SetDecompressedSHA256(sum, image string) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	if err := checkSum(image); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(c.blobPath(sum)); err != nil {
		return fmt.Errorf("cache: note: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(c.dir, noteDir), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache: note: %w", err)
	}
	_, err = tmp.WriteString(image + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.notePath(sum))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cache: note: %w", err)
	}
	return nil
}

// DecompressedSHA256 returns the image SHA-256 recorded for the entry
// sum by SetDecompressedSHA256; ok is false when none was recorded (or
// the entry is gone).
func (c *Cache) DecompressedSHA256(sum string) (image string, ok bool) {
	if checkSum(sum) != nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(c.blobPath(sum)); err != nil {
		return "", false
	}
	b, err := os.ReadFile(c.notePath(sum))
	if err != nil {
		return "", false
	}
	image = string(bytes.TrimSpace(b))
	if checkSum(image) != nil {
		return "", false
	}
	return image, true
}

// removeNote removes the entry's recorded image SHA-256, if any.
func (c *Cache) removeNote(sum string) {
	if err := os.Remove(c.notePath(sum)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("cache: cannot remove note", "sum", sum, "err", err)
	}
}

func (c *Cache) notePath(sum string) string {
	return filepath.Join(c.dir, noteDir, sum)
}

func (c *Cache) blobPath(sum string) string {
	return filepath.Join(c.dir, blobDir, sum)
}

// pending is a temp file being written and hashed.
type pending struct {
	f    *os.File
	path string
	h    hash.Hash
	n    int64
	max  int64
}

// newPending creates a locked temp file in tmp/. The directory lock is
// held meanwhile so that a concurrent Open cannot remove the file before
// it is locked.
func (c *Cache) newPending(pattern string) (*pending, error) {
	unlock, err := c.lockDir()
	if err != nil {
		return nil, err
	}
	defer unlock()
	f, err := os.CreateTemp(filepath.Join(c.dir, tmpDir), pattern)
	if err != nil {
		return nil, fmt.Errorf("cache: temp file: %w", err)
	}
	if err := flock(f, false); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("cache: temp file: %w", err)
	}
	return &pending{f: f, path: f.Name(), h: sha256.New(), max: c.max}, nil
}

// write appends b, refusing to grow past the cache's bound.
func (p *pending) write(b []byte) error {
	if p.n+int64(len(b)) > p.max {
		return fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, p.max)
	}
	if _, err := p.f.Write(b); err != nil {
		return fmt.Errorf("cache: write: %w", err)
	}
	p.h.Write(b)
	p.n += int64(len(b))
	return nil
}

// close closes the file, keeping it.
func (p *pending) close() {
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
}

// discard closes and removes the file. It may be called more than once.
func (p *pending) discard() {
	if p.f != nil {
		p.f.Close()
		p.f = nil
		os.Remove(p.path)
	}
}

// checkSum accepts exactly 64 lowercase hex digits.
func checkSum(s string) error {
	ok := len(s) == 2*sha256.Size
	for i := 0; ok && i < len(s); i++ {
		ch := s[i]
		ok = '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f'
	}
	if !ok {
		return fmt.Errorf("%w %q: want 64 lowercase hex digits", ErrBadSum, s)
	}
	return nil
}
