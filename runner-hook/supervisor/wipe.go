package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EmptyDir removes everything inside dir, which must be a directory (not
// a link) owned by id, and leaves dir itself. Run it only when no process
// of id is left: removal does not follow links, and nothing races it then.
func EmptyDir(dir string, id Identity) (removed int, err error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("supervisor: %w", err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("supervisor: %s: not a directory; not emptied", dir)
	}
	if uid, _ := owner(fi); uid != id.UID {
		return 0, fmt.Errorf("supervisor: %s is not owned by %s; not emptied", dir, id.Name)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("supervisor: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("supervisor: emptying %s: %w", dir, err)
	}
	return removed, nil
}

// RemoveOwned removes the entries of dir (a temporary directory such as
// /tmp) that the user uid owns, with everything inside them.
func RemoveOwned(dir string, uid uint32) (removed []string, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if u, _ := owner(fi); u != uid {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("supervisor: cleaning %s: %w", dir, err)
	}
	return removed, nil
}

// persistence lists files by which a user has the system start processes
// for it later: its crontab and its systemd linger flag (which keeps its
// user services running).
func persistence(name string) []string {
	return []string{
		"/var/spool/cron/crontabs/" + name,
		"/var/spool/cron/" + name,
		"/var/lib/systemd/linger/" + name,
	}
}
