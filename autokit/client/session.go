package client

import (
	"context"
	"fmt"
	"io"

	"github.com/balena/leviathan-action/autokit/api"
)

// Session returns the live lease's session recording so far (lease
// needed): gzip-compressed JSON lines, as package autokit/session's
// Encode writes them and its Read reads them. A testbot fetches it before
// it releases the lease (the recording ends with the lease) and keeps it
// as session.jsonl.gz with the run's reports.
func (c *Client) Session(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, request{method: "GET", path: api.PathSession, leased: true})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: GET %s: %w", api.PathSession, err)
	}
	return p, nil
}
