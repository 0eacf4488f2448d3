package testimage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"
	"syscall"
	"time"
)

// errStopReading, returned by a readDeb visitor, ends the walk early
// without an error.
var errStopReading = errors.New("stop reading")

// corruptHint ends errors about a package that cannot be read.
const corruptHint = "; if the file is damaged, delete it so the next build fetches it again"

// debEntry is one member of a package's data archive.
type debEntry struct {
	Name string // clean, relative to / ("usr/sbin/dropbear")
	Type byte   // tar.TypeReg, tar.TypeSymlink, tar.TypeDir, ...
	Link string // symlink target as stored
	Mode int64
	Data []byte // content, only for files the caller kept
}

// readDeb streams the data archive of the .deb at debPath through
// `dpkg-deb --fsys-tarfile` and calls visit for every member, with the
// member's content as r. Nothing is written to disk. If visit returns
// errStopReading, dpkg-deb is stopped and readDeb returns nil.
func readDeb(ctx context.Context, debPath string, visit func(h *tar.Header, name string, r io.Reader) error) error {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return fmt.Errorf("testimage: dpkg-deb not found (apt-get install dpkg): %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", debPath)
	// dpkg-deb forks its decompressor: stop the whole process group, and
	// do not wait long for pipes a straggler may hold.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("testimage: dpkg-deb: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testimage: dpkg-deb: %w", err)
	}
	walkErr := func() error {
		tr := tar.NewReader(out)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading the data archive: %w", err)
			}
			name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			if name == "" {
				continue
			}
			if err := visit(h, name, tr); err != nil {
				return err
			}
		}
	}()
	if walkErr != nil {
		cancel()
		_ = cmd.Wait()
		if errors.Is(walkErr, errStopReading) {
			return nil
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			walkErr = fmt.Errorf("%w (dpkg-deb: %s)", walkErr, msg)
		}
		return fmt.Errorf("testimage: %s: %w%s", debPath, walkErr, corruptHint)
	}
	// Drain whatever follows the tar end marker so dpkg-deb can exit.
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("testimage: dpkg-deb --fsys-tarfile %s: %w: %s%s", debPath, err, strings.TrimSpace(stderr.String()), corruptHint)
	}
	return nil
}

// fileIndex is the merged file list of several packages, keyed by clean
// path; content is present only for members kept while reading.
type fileIndex map[string]*debEntry

// indexDeb adds every member of the package to ix, keeping the content of
// regular files for which keep returns true.
func (ix fileIndex) indexDeb(ctx context.Context, debPath string, keep func(name string) bool) error {
	return readDeb(ctx, debPath, func(h *tar.Header, name string, r io.Reader) error {
		e := &debEntry{Name: name, Type: h.Typeflag, Link: h.Linkname, Mode: h.Mode}
		if h.Typeflag == tar.TypeReg && keep(name) {
			data, err := io.ReadAll(r)
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			e.Data = data
		}
		if old, ok := ix[name]; ok && old.Type == tar.TypeDir && e.Type == tar.TypeDir {
			return nil
		}
		ix[name] = e
		return nil
	})
}

// resolve follows symbolic links from p (up to 16 hops) and returns the
// chain of names visited, ending with a regular file.
func (ix fileIndex) resolve(p string) ([]string, error) {
	p = cleanName(p)
	var chain []string
	for range 16 {
		e, ok := ix[p]
		if !ok {
			return chain, fmt.Errorf("%s: not in the packages", "/"+p)
		}
		chain = append(chain, p)
		switch e.Type {
		case tar.TypeReg:
			if e.Data == nil {
				return chain, fmt.Errorf("%s: content was not kept", "/"+p)
			}
			return chain, nil
		case tar.TypeSymlink:
			if strings.HasPrefix(e.Link, "/") {
				p = cleanName(e.Link)
			} else {
				p = cleanName(path.Join(path.Dir(p), e.Link))
			}
		case tar.TypeLink:
			p = cleanName(e.Link)
		default:
			return chain, fmt.Errorf("%s: not a regular file or symlink", "/"+p)
		}
	}
	return chain, fmt.Errorf("%s: too many levels of symbolic links", "/"+p)
}
