package inject_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/balena/leviathan-action/autokit/image/inject"
)

// FuzzReader: over any input the Reader never panics, never returns more
// bytes than it read, returns a prefix of the input when it fails, and on
// success changes only the boot partition's bytes.
func FuzzReader(f *testing.F) {
	mbrDisk := newDisk(f, "mbr", 80, part{1, 64, fat12, "TINY"}, part{65, 8, noFS, ""})
	gptDisk := newDisk(f, "gpt", 140, part{34, 64, fat12, "TINY"}, part{98, 8, noFS, "data"})
	f.Add(mbrDisk)
	f.Add(gptDisk)
	f.Add(mbrDisk[:40*512])
	f.Add(gptDisk[:20*512])
	f.Add(mbrDisk[:512])
	f.Add([]byte{})
	files := []inject.File{{Name: "config.json", Data: []byte(`{"hostname":"dut"}`)}, {Name: "a/b.txt", Data: []byte("b")}}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := inject.New(bytes.NewReader(in), files, inject.WithMemoryLimit(1<<20))
		out, err := io.ReadAll(io.LimitReader(r, int64(len(in))+1))
		if len(out) > len(in) {
			t.Fatalf("%d bytes out of %d in", len(out), len(in))
		}
		if err != nil {
			if !bytes.Equal(out, in[:len(out)]) {
				t.Fatalf("failed (%v) after returning bytes that are not the input's", err)
			}
			if n, err2 := r.Read(make([]byte, 1)); n != 0 || err2 == nil || err2 == io.EOF {
				t.Fatalf("Read after %v = %d, %v", err, n, err2)
			}
			return
		}
		if len(out) != len(in) {
			t.Fatalf("success with %d bytes out of %d in", len(out), len(in))
		}
		p, ok := r.Partition()
		if !ok {
			t.Fatal("success without a boot partition")
		}
		if !bytes.Equal(out[:p.Start], in[:p.Start]) || !bytes.Equal(out[p.Start+p.Size:], in[p.Start+p.Size:]) {
			t.Fatal("bytes outside the boot partition changed")
		}
		if r.InputSHA256() != sum(in) {
			t.Fatal("wrong InputSHA256")
		}
	})
}
