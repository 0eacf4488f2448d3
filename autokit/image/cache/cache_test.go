package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// blob returns n deterministic bytes that differ with seed.
func blob(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func open(t *testing.T, dir string, max int64) *Cache {
	t.Helper()
	c, err := Open(dir, max)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

func put(t *testing.T, c *Cache, b []byte) string {
	t.Helper()
	sum, size, err := c.Put(context.Background(), bytes.NewReader(b), "")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if size != int64(len(b)) || sum != sumOf(b) {
		t.Fatalf("Put = %s, %d; want %s, %d", sum, size, sumOf(b), len(b))
	}
	return sum
}

// get reads an entry through Get, which marks it used.
func get(t *testing.T, c *Cache, sum string) ([]byte, bool) {
	t.Helper()
	f, size, ok, err := c.Get(sum)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !ok {
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read entry: %v", err)
	}
	if int64(len(b)) != size {
		t.Fatalf("Get size %d, read %d bytes", size, len(b))
	}
	return b, true
}

// onDisk lists the entries in dir without touching their recency.
func onDisk(t *testing.T, dir string) []string {
	t.Helper()
	return names(t, filepath.Join(dir, blobDir))
}

func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	return names(t, filepath.Join(dir, tmpDir))
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// assertEmpty checks that nothing is cached and nothing is left in tmp/.
func assertEmpty(t *testing.T, c *Cache, dir string) {
	t.Helper()
	if c.Len() != 0 || c.Size() != 0 {
		t.Errorf("Len, Size = %d, %d; want 0, 0", c.Len(), c.Size())
	}
	if got := onDisk(t, dir); len(got) != 0 {
		t.Errorf("entries on disk: %v", got)
	}
	if got := tmpFiles(t, dir); len(got) != 0 {
		t.Errorf("temp files left: %v", got)
	}
}

func TestPutGet(t *testing.T) {
	tests := []struct {
		name string
		size int
		want bool // pass the digest as want
	}{
		{"empty", 0, false},
		{"one byte", 1, true},
		{"several chunks", 3*chunk + 17, false},
		{"several chunks verified", 3*chunk + 17, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, 1<<30)
			b := blob(tt.size, 3)
			want := ""
			if tt.want {
				want = sumOf(b)
			}
			sum, size, err := c.Put(context.Background(), bytes.NewReader(b), want)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if sum != sumOf(b) || size != int64(len(b)) {
				t.Fatalf("Put = %s, %d; want %s, %d", sum, size, sumOf(b), len(b))
			}
			got, ok := get(t, c, sum)
			if !ok || !bytes.Equal(got, b) {
				t.Fatalf("Get: ok %v, %d bytes; want the %d bytes put", ok, len(got), len(b))
			}
			if c.Len() != 1 || c.Size() != int64(len(b)) {
				t.Errorf("Len, Size = %d, %d; want 1, %d", c.Len(), c.Size(), len(b))
			}
			if left := tmpFiles(t, dir); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

func TestGetMiss(t *testing.T) {
	c := open(t, t.TempDir(), 100)
	f, size, ok, err := c.Get(sumOf([]byte("absent")))
	if f != nil || size != 0 || ok || err != nil {
		t.Fatalf("Get = %v, %d, %v, %v; want a miss without error", f, size, ok, err)
	}
}

func TestPutMismatch(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<30)
	b := blob(2*chunk+5, 1)
	want := sumOf([]byte("something else"))
	_, _, err := c.Put(context.Background(), bytes.NewReader(b), want)
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Put error = %v; want a *MismatchError", err)
	}
	if me.Want != want || me.Got != sumOf(b) {
		t.Errorf("MismatchError = %+v; want Want %s, Got %s", me, want, sumOf(b))
	}
	if !strings.HasPrefix(err.Error(), "cache: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	assertEmpty(t, c, dir)
}

func TestBadSum(t *testing.T) {
	good := sumOf([]byte("x"))
	tests := []struct {
		name string
		sum  string
	}{
		{"short", "abc"},
		{"63 digits", good[:63]},
		{"65 digits", good + "0"},
		{"uppercase", strings.ToUpper(good)},
		{"not hex", "g" + good[1:]},
		{"path", "../" + good[3:]},
		{"prefixed", "sha256:" + good[7:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, 1<<20)
			if _, _, _, err := c.Get(tt.sum); !errors.Is(err, ErrBadSum) {
				t.Errorf("Get error = %v; want ErrBadSum", err)
			}
			if err := c.Remove(tt.sum); !errors.Is(err, ErrBadSum) {
				t.Errorf("Remove error = %v; want ErrBadSum", err)
			}
			if _, _, err := c.Put(context.Background(), strings.NewReader("x"), tt.sum); !errors.Is(err, ErrBadSum) {
				t.Errorf("Put error = %v; want ErrBadSum", err)
			}
			r, commit := c.Tee(strings.NewReader("x"), tt.sum)
			if b, err := io.ReadAll(r); err != nil || string(b) != "x" {
				t.Errorf("Tee passed %q, %v; want \"x\"", b, err)
			}
			if _, err := commit(); !errors.Is(err, ErrBadSum) {
				t.Errorf("Tee commit error = %v; want ErrBadSum", err)
			}
			assertEmpty(t, c, dir)
		})
	}
	// The empty string means "no expectation" for Put and Tee only.
	c := open(t, t.TempDir(), 1<<20)
	if _, _, _, err := c.Get(""); !errors.Is(err, ErrBadSum) {
		t.Errorf("Get(\"\") error = %v; want ErrBadSum", err)
	}
}

func TestEvictLRU(t *testing.T) {
	// Entries a, b, c and d; the cache holds 30 bytes.
	sizes := map[string]int{"a": 10, "b": 10, "c": 10, "d": 10, "big": 20, "max": 30}
	tests := []struct {
		name string
		ops  []string // "put x" or "get x"
		want []string // entries left, sorted
	}{
		{"fits", []string{"put a", "put b", "put c"}, []string{"a", "b", "c"}},
		{"oldest first", []string{"put a", "put b", "put c", "put d"}, []string{"b", "c", "d"}},
		{"get refreshes", []string{"put a", "put b", "put c", "get a", "put d"}, []string{"a", "c", "d"}},
		{"put again refreshes", []string{"put a", "put b", "put c", "put a", "put d"}, []string{"a", "c", "d"}},
		{"several evicted", []string{"put a", "put b", "put c", "get a", "put big"}, []string{"a", "big"}},
		{"new entry kept", []string{"put a", "put b", "put max"}, []string{"max"}},
		{"miss changes nothing", []string{"put a", "put b", "put c", "get d", "put d"}, []string{"b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, 30)
			byName := map[string][]byte{}
			seed := byte(0)
			for name, n := range sizes {
				seed++
				byName[name] = blob(n, seed)
			}
			for _, op := range tt.ops {
				verb, name, _ := strings.Cut(op, " ")
				switch verb {
				case "put":
					put(t, c, byName[name])
				case "get":
					get(t, c, sumOf(byName[name]))
				}
			}
			var got []string
			var size int64
			for _, s := range onDisk(t, dir) {
				for name, b := range byName {
					if sumOf(b) == s {
						got = append(got, name)
						size += int64(len(b))
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries = %v; want %v", got, tt.want)
			}
			if c.Len() != len(tt.want) || c.Size() != size {
				t.Errorf("Len, Size = %d, %d; want %d, %d", c.Len(), c.Size(), len(tt.want), size)
			}
		})
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 30)
	a, b, cc := blob(10, 1), blob(10, 2), blob(10, 3)
	put(t, c, a)
	put(t, c, b)
	put(t, c, cc)
	get(t, c, sumOf(a)) // b is now the least recently used

	// Leftovers of a crash: partial files and a directory in tmp/, and a
	// stray file under sha256/ that is not an entry.
	for _, name := range []string{"put-123", "tee-456"} {
		if err := os.WriteFile(filepath.Join(dir, tmpDir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, tmpDir, "junkdir", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dir, blobDir, "README")
	if err := os.WriteFile(stray, []byte("not an entry"), 0o644); err != nil {
		t.Fatal(err)
	}

	c2 := open(t, dir, 30)
	if c2.Len() != 3 || c2.Size() != 30 {
		t.Fatalf("after reopen Len, Size = %d, %d; want 3, 30", c2.Len(), c2.Size())
	}
	if left := tmpFiles(t, dir); len(left) != 0 {
		t.Errorf("temp files left after reopen: %v", left)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Errorf("stray file: %v; want it left alone", err)
	}
	for _, e := range [][]byte{a, b, cc} {
		if _, err := os.Stat(filepath.Join(dir, blobDir, sumOf(e))); err != nil {
			t.Errorf("entry lost: %v", err)
		}
	}
	// Recency survived: adding d evicts b, not a.
	put(t, c2, blob(10, 4))
	if _, err := os.Stat(filepath.Join(dir, blobDir, sumOf(b))); !os.IsNotExist(err) {
		t.Errorf("b still cached (%v); want it evicted as least recently used", err)
	}
	if _, err := os.Stat(filepath.Join(dir, blobDir, sumOf(a))); err != nil {
		t.Errorf("a evicted (%v); want it kept, it was read before the restart", err)
	}

	// Reopening with a smaller bound evicts at once, oldest first.
	c3 := open(t, dir, 20)
	if c3.Len() != 2 || c3.Size() != 20 {
		t.Errorf("reopened at 20 bytes: Len, Size = %d, %d; want 2, 20", c3.Len(), c3.Size())
	}
	if _, ok := get(t, c3, sumOf(cc)); ok {
		t.Errorf("c still cached; want it evicted at Open")
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 100)
	sum := put(t, c, blob(10, 1))
	f, _, ok, err := c.Get(sum)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	defer f.Close()
	if err := c.Remove(sum); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	assertEmpty(t, c, dir)
	if err := c.Remove(sum); err != nil {
		t.Errorf("second Remove: %v; want nil", err)
	}
	// A file returned before the removal stays readable.
	if b, err := io.ReadAll(f); err != nil || !bytes.Equal(b, blob(10, 1)) {
		t.Errorf("reading a removed entry: %d bytes, %v", len(b), err)
	}
}

func TestTooLarge(t *testing.T) {
	tests := []struct {
		name   string
		max    int64
		size   int
		cached bool
	}{
		{"exactly the bound", 100, 100, true},
		{"one byte over", 100, 101, false},
		{"far over", chunk, 10 * chunk, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, tt.max)
			src := bytes.NewReader(blob(tt.size, 9))
			_, _, err := c.Put(context.Background(), src, "")
			if tt.cached {
				if err != nil || c.Len() != 1 {
					t.Fatalf("Put: %v, Len %d; want cached", err, c.Len())
				}
				return
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Put error = %v; want ErrTooLarge", err)
			}
			assertEmpty(t, c, dir)
			if tt.size > 2*chunk && src.Len() == 0 {
				t.Errorf("Put read all of a source far larger than the cache; want it to stop early")
			}
		})
	}
}

func TestTooLargeKeepsOthers(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 20)
	a := put(t, c, blob(10, 1))
	if _, _, err := c.Put(context.Background(), bytes.NewReader(blob(21, 2)), ""); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put error = %v; want ErrTooLarge", err)
	}
	if got := onDisk(t, dir); !slices.Equal(got, []string{a}) {
		t.Errorf("entries = %v; want only the earlier one", got)
	}
}

// cancelReader cancels its context on the given Read and keeps returning
// data.
type cancelReader struct {
	cancel context.CancelFunc
	at     int
	reads  int
}

func (r *cancelReader) Read(b []byte) (int, error) {
	r.reads++
	if r.reads == r.at {
		r.cancel()
	}
	for i := range b {
		b[i] = byte(i)
	}
	return len(b), nil
}

func TestPutCancel(t *testing.T) {
	tests := []struct {
		name string
		at   int // the Read that cancels; 0 cancels before Put
	}{
		{"before", 0},
		{"first read", 1},
		{"mid stream", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, 1<<30)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.at == 0 {
				cancel()
			}
			_, _, err := c.Put(ctx, &cancelReader{cancel: cancel, at: tt.at}, "")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put error = %v; want context.Canceled", err)
			}
			assertEmpty(t, c, dir)
		})
	}
}

// failReader returns data, then an error.
type failReader struct{ n int }

func (r *failReader) Read(b []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(b), r.n)
	clear(b[:n])
	r.n -= n
	return n, nil
}

func TestPutReadError(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<30)
	_, _, err := c.Put(context.Background(), &failReader{n: chunk + 3}, "")
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Put error = %v; want the read error", err)
	}
	assertEmpty(t, c, dir)
}

func TestConcurrentPuts(t *testing.T) {
	tests := []struct {
		name string
		max  int64
	}{
		{"no eviction", 1 << 30},
		{"with eviction", 4 * 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, tt.max)
			same := blob(1000, 42)
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 16 {
				wg.Go(func() {
					b := same
					if i%2 == 1 {
						b = blob(1000, byte(i))
					}
					sum, _, err := c.Put(context.Background(), bytes.NewReader(b), sumOf(b))
					if err != nil {
						errs <- err
						return
					}
					if f, _, ok, err := c.Get(sum); err != nil {
						errs <- err
					} else if ok {
						f.Close()
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			disk := onDisk(t, dir)
			if c.Len() != len(disk) || c.Size() != int64(1000*len(disk)) {
				t.Errorf("Len, Size = %d, %d; want %d, %d", c.Len(), c.Size(), len(disk), 1000*len(disk))
			}
			if c.Size() > tt.max {
				t.Errorf("Size %d over the bound %d", c.Size(), tt.max)
			}
			if tt.max > 1<<20 && len(disk) != 9 {
				t.Errorf("%d entries; want 9 (one shared, eight distinct)", len(disk))
			}
			if left := tmpFiles(t, dir); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

func TestSharedDir(t *testing.T) {
	dir := t.TempDir()
	c1 := open(t, dir, 1<<20)
	c2 := open(t, dir, 1<<20)
	b := blob(100, 1)
	sum := put(t, c1, b)
	// c2 learns of entries added by c1 on Get.
	if got, ok := get(t, c2, sum); !ok || !bytes.Equal(got, b) {
		t.Fatalf("second cache: Get ok %v; want the entry added by the first", ok)
	}
	if c2.Len() != 1 {
		t.Errorf("second cache Len = %d; want 1", c2.Len())
	}
	// c2 forgets entries removed by c1 on Get.
	if err := c1.Remove(sum); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, c2, sum); ok || c2.Len() != 0 {
		t.Errorf("second cache: Get ok %v, Len %d after removal; want a miss", ok, c2.Len())
	}

	// A Tee in flight keeps its temp file when another cache opens the
	// directory (the file is locked), and still commits.
	r, commit := c1.Tee(bytes.NewReader(b), sum)
	if _, err := io.CopyN(io.Discard, r, 10); err != nil {
		t.Fatal(err)
	}
	open(t, dir, 1<<20)
	if left := tmpFiles(t, dir); len(left) != 1 {
		t.Fatalf("temp files after a concurrent Open: %v; want the one in flight", left)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if got, err := commit(); err != nil || got != sum {
		t.Fatalf("commit = %s, %v; want %s", got, err, sum)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		max  int64
	}{
		{"no dir", "", 10},
		{"zero bound", "DIR", 0},
		{"negative bound", "DIR", -1},
		{"dir is a file", "FILE", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			file := filepath.Join(base, "file")
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			dir := strings.NewReplacer("DIR", filepath.Join(base, "c"), "FILE", file).Replace(tt.dir)
			_, err := Open(dir, tt.max)
			if err == nil || !strings.HasPrefix(err.Error(), "cache: ") {
				t.Errorf("Open error = %v; want a cache: error", err)
			}
		})
	}
}

func TestMismatchErrorString(t *testing.T) {
	e := &MismatchError{Want: "aa", Got: "bb"}
	if got, want := e.Error(), "cache: sha256 mismatch: want aa, got bb"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

// An entry that another process (with its clock ahead) used more recently
// than the entry being added must not cause that new entry's eviction.
func TestEvictKeepsNewEntry(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 30)
	a := put(t, c, blob(10, 1))
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, blobDir, a), future, future); err != nil {
		t.Fatal(err)
	}
	big := put(t, c, blob(25, 2))
	if got := onDisk(t, dir); !slices.Equal(got, []string{big}) {
		t.Errorf("entries = %v; want only the new one %s", got, big)
	}
}

func TestDecompressedSHA256Note(t *testing.T) {
	c, err := Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	sum, _, err := c.Put(context.Background(), strings.NewReader("upload"), "")
	if err != nil {
		t.Fatal(err)
	}
	image := strings.Repeat("ab", 32)
	if _, ok := c.DecompressedSHA256(sum); ok {
		t.Fatal("a note before any was recorded")
	}
	if err := c.SetDecompressedSHA256(strings.Repeat("cd", 32), image); err == nil {
		t.Fatal("a note for an entry that is not cached")
	}
	if err := c.SetDecompressedSHA256(sum, "not hex"); err == nil {
		t.Fatal("a malformed image digest was recorded")
	}
	if err := c.SetDecompressedSHA256(sum, image); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.DecompressedSHA256(sum); !ok || got != image {
		t.Fatalf("DecompressedSHA256 = %q, %v", got, ok)
	}
	if err := c.Remove(sum); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.DecompressedSHA256(sum); ok {
		t.Fatal("the note outlived its entry")
	}
}
