package testimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"path"
	"strings"
)

// libraryDirs are where the dynamic loader of a Debian amd64 system looks
// for libraries when there is no ld.so.cache, in its order.
var libraryDirs = []string{
	"lib/x86_64-linux-gnu",
	"usr/lib/x86_64-linux-gnu",
	"lib",
	"usr/lib",
	"lib64",
	"usr/lib64",
}

// elfImports returns the program interpreter (PT_INTERP, empty for static
// binaries) and the DT_NEEDED sonames of an ELF file.
func elfImports(data []byte) (interp string, needed []string, err error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return "", nil, fmt.Errorf("reading PT_INTERP: %w", err)
		}
		interp = strings.TrimRight(string(b), "\x00")
	}
	needed, err = f.ImportedLibraries()
	if err != nil {
		return "", nil, fmt.Errorf("reading DT_NEEDED: %w", err)
	}
	return interp, needed, nil
}

// sharedObjectClosure finds, in ix, everything the ELF files at bins need
// to run: their interpreter and DT_NEEDED libraries, recursively. It returns
// the paths to copy into the image (symbolic links and the files they point
// to), in a stable order, without the binaries themselves.
func sharedObjectClosure(ix fileIndex, bins []string) ([]string, error) {
	var (
		out     []string
		seen    = make(map[string]bool) // paths added to out
		visited = make(map[string]bool) // ELF files whose imports were read
		queue   []string
	)
	addChain := func(chain []string) {
		for _, p := range chain {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	for _, b := range bins {
		chain, err := ix.resolve(b)
		if err != nil {
			return nil, fmt.Errorf("testimage: %w", err)
		}
		queue = append(queue, chain[len(chain)-1])
		seen[cleanName(b)] = true
		for _, p := range chain {
			seen[p] = true
		}
	}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		if visited[file] {
			continue
		}
		visited[file] = true
		interp, needed, err := elfImports(ix[file].Data)
		if err != nil {
			return nil, fmt.Errorf("testimage: /%s: %w", file, err)
		}
		if interp != "" {
			chain, err := ix.resolve(interp)
			if err != nil {
				return nil, fmt.Errorf("testimage: interpreter of /%s: %w", file, err)
			}
			addChain(chain)
			queue = append(queue, chain[len(chain)-1])
		}
		for _, soname := range needed {
			chain, err := findLibrary(ix, soname)
			if err != nil {
				return nil, fmt.Errorf("testimage: /%s needs %s: %w", file, soname, err)
			}
			addChain(chain)
			queue = append(queue, chain[len(chain)-1])
		}
	}
	return out, nil
}

// findLibrary looks a soname up in the loader's default directories.
func findLibrary(ix fileIndex, soname string) ([]string, error) {
	if strings.Contains(soname, "/") {
		return ix.resolve(soname)
	}
	for _, dir := range libraryDirs {
		p := path.Join(dir, soname)
		if _, ok := ix[p]; ok {
			return ix.resolve(p)
		}
	}
	return nil, fmt.Errorf("no package provides it in %s", strings.Join(libraryDirs, ", "))
}
