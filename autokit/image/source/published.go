package source

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// PublishedSHA256 fetches the SHA-256 a server publishes next to the
// image at imageURL, in the file imageURL + ".sha256" (balena's image
// server and many others do): either a bare hex digest or sha256sum's
// "<hex>  <name>" line. It is the digest of the download itself (the
// compressed file as served), not of the image it decompresses to. Only
// the client and logger options apply; the request is not retried.
func PublishedSHA256(ctx context.Context, imageURL string, opts ...Option) (string, error) {
	cfg := config{client: defaultClient()}
	for _, o := range opts {
		o(&cfg)
	}
	u, err := url.Parse(imageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("source: %q is not an http(s) URL, so no published SHA-256", imageURL)
	}
	u.Path += ".sha256"
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	resp, err := cfg.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("source: fetching the published SHA-256: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("source: fetching the published SHA-256: %w", statusError(u.Redacted(), resp))
	}
	line, err := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("source: reading %s: %w", u.Redacted(), err)
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", fmt.Errorf("source: %s is empty", u.Redacted())
	}
	sum := strings.ToLower(f[0])
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return "", fmt.Errorf("source: %s does not start with a hex SHA-256: %q", u.Redacted(), f[0])
	}
	return sum, nil
}
