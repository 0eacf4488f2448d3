package artifact

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/balena/leviathan-action/autokit/image/zipstream"
)

// ErrNoMember is returned by Extract when the archive has no such member.
var ErrNoMember = errors.New("artifact: no such member in the artifact")

// SkipAll, returned by a WalkFunc, stops the walk; Walk then returns nil.
var SkipAll = errors.New("artifact: skip the rest of the archive")

// Member is a file of an artifact's zip archive.
type Member struct {
	// Name is the member's slash-separated path in the archive.
	Name string
	// Size is the decompressed size, or -1 when the archive does not say
	// before the content (a streamed zip, such as Upload writes).
	Size int64
}

// WalkFunc is called by Walk with each file member in archive order; r
// reads its content, and its CRC-32 is checked when r reaches EOF. What
// the function leaves unread is skipped. Returning SkipAll stops the walk
// without error; any other error stops it with that error.
type WalkFunc func(m Member, r io.Reader) error

// walkStream calls fn with each file member of the zip archive in r. It
// reads the archive front to back, so a download streams straight
// through, and stops reading where fn stops the walk.
func walkStream(r io.Reader, fn WalkFunc) error {
	zr := zipstream.NewReader(r)
	for {
		e, err := zr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("artifact: %w", err)
		}
		if e.IsDir() {
			continue
		}
		if err := fn(Member{Name: e.Name, Size: e.Size}, zr); err != nil {
			if err == SkipAll {
				return nil
			}
			return err
		}
	}
}

// extractStream copies the member named member (the first file when "")
// of the zip archive in r to w, checking its CRC-32.
func extractStream(r io.Reader, member string, w io.Writer) (int64, error) {
	var seen []string
	var n int64
	found := false
	err := walkStream(r, func(m Member, mr io.Reader) error {
		seen = append(seen, m.Name)
		if member != "" && m.Name != member {
			return nil
		}
		found = true
		var err error
		if n, err = io.Copy(w, mr); err != nil {
			return fmt.Errorf("artifact: %w", err)
		}
		return SkipAll
	})
	if err != nil {
		return n, err
	}
	if !found {
		return 0, fmt.Errorf("%w: %q (members: %s)", ErrNoMember, member, strings.Join(seen, ", "))
	}
	return n, nil
}
