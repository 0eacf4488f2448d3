package runresult

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// maxReports bounds the bytes extracted from a container's reports.
const maxReports = 1 << 30

// ExtractReports writes a tar stream of a reports directory, entries under
// that directory's base name (what CopyFromContainer and the worker's GET
// /v1/testrunner/reports send), into dir. Only
// regular files and directories are written, through an os.Root, so no
// entry lands outside dir whatever its name; links and devices are skipped.
func ExtractReports(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("testrunner: reports: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("testrunner: reports: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("testrunner: reports: reading archive: %w", err)
		}
		rel, ok := reportPath(h.Name)
		if !ok {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(rel, 0o755); err != nil {
				return fmt.Errorf("testrunner: reports: %w", err)
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxReports {
				return fmt.Errorf("testrunner: reports exceed %d bytes", maxReports)
			}
			if d := path.Dir(rel); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("testrunner: reports: %w", err)
				}
			}
			if err := writeFile(root, rel, tr); err != nil {
				return err
			}
		}
	}
}

// reportPath maps an archive entry name to a path relative to the reports
// directory: the first element (the copied directory's name) is dropped,
// and names that are absolute or climb out are refused.
func reportPath(name string) (string, bool) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	_, rest, ok := strings.Cut(name, "/")
	if !ok || rest == "" || !fs.ValidPath(rest) {
		return "", false
	}
	return rest, true
}

func writeFile(root *os.Root, rel string, r io.Reader) error {
	f, err := root.OpenFile(rel, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("testrunner: reports: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("testrunner: reports: %s: %w", rel, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("testrunner: reports: %w", err)
	}
	return nil
}
