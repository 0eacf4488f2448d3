package bmap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes. It must never panic, must fail
// only with an *Error, and a Map it returns must satisfy every invariant
// Parse promises. Seeds: the samples in testdata/, the small documents of
// the table tests, and the corpus in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.bmap")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(sign(base)))
	f.Add([]byte(base))
	f.Add([]byte(sign(edit(`version="2.0"`, `version="1.3"`))))
	f.Add([]byte(sign(edit("<Range> 2 ", "<Range> 1-2 ", "<MappedBlocksCount> 2 ", "<MappedBlocksCount> 3 "))))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(bytes.NewReader(data))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Err == nil || e.Reason == "" {
				t.Fatalf("error %#v lacks a class or a reason", e)
			}
			return
		}
		if err := invariants(m); err != nil {
			t.Fatalf("%v\n%q", err, data)
		}
	})
}
