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

// extractStream copies the member named member (the first file when "")
// of the zip archive in r to w, checking its CRC-32. It reads the archive
// front to back, so a download streams straight through.
func extractStream(r io.Reader, member string, w io.Writer) (int64, error) {
	zr := zipstream.NewReader(r)
	var seen []string
	for {
		e, err := zr.Next()
		if err == io.EOF {
			return 0, fmt.Errorf("%w: %q (members: %s)", ErrNoMember, member, strings.Join(seen, ", "))
		}
		if err != nil {
			return 0, fmt.Errorf("artifact: %w", err)
		}
		seen = append(seen, e.Name)
		if e.IsDir() || (member != "" && e.Name != member) {
			continue
		}
		n, err := io.Copy(w, zr)
		if err != nil {
			return n, fmt.Errorf("artifact: %w", err)
		}
		return n, nil
	}
}
