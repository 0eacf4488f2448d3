package testrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/google/go-containerregistry/pkg/name"
)

// ErrDigestMismatch is wrapped by Pull's error when the image the engine
// holds or fetched does not carry the requested digest.
var ErrDigestMismatch = errors.New("image digest mismatch")

// PullResult describes the image Pull made available.
type PullResult struct {
	ImageID  string // the engine's image ID (sha256 of the config)
	Pulled   bool   // false when the engine already held the digest
	Attempts int    // pull attempts made; 0 when reused
}

// PullOption configures Pull.
type PullOption func(*pullConfig)

type pullConfig struct {
	attempts int
	backoff  time.Duration
	log      *slog.Logger
}

// WithAttempts bounds the pull attempts against a registry that does not
// answer; 4 by default.
func WithAttempts(n int) PullOption { return func(c *pullConfig) { c.attempts = max(n, 1) } }

// WithBackoff sets the wait before the second attempt, doubled after each
// further one and capped at 16 times d; 500ms by default.
func WithBackoff(d time.Duration) PullOption { return func(c *pullConfig) { c.backoff = d } }

// WithLogger sends Pull's decisions (reuse, retries) to l; silent by default.
func WithLogger(l *slog.Logger) PullOption { return func(c *pullConfig) { c.log = l } }

// Pull makes the image ref (a reference by digest,
// host/repo@sha256:…) available in the engine. It reuses the engine's copy
// when present, else pulls it, writing the engine's progress messages
// (without progress bars) to progress when not nil. It retries a registry
// that does not answer with backoff, and fails with ErrDigestMismatch when
// the image does not carry the requested digest.
func Pull(ctx context.Context, cli ImageEngine, ref string, progress io.Writer, opts ...PullOption) (PullResult, error) {
	c := pullConfig{attempts: 4, backoff: 500 * time.Millisecond}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if progress == nil {
		progress = io.Discard
	}
	want, err := name.NewDigest(ref)
	if err != nil {
		return PullResult{}, fmt.Errorf("testrunner: %q is not an image reference by digest (host/repo@sha256:…): %w", ref, err)
	}
	insp, err := cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		if err := hasDigest(insp, want); err != nil {
			return PullResult{}, err
		}
		c.log.Info("testrunner: image present, not pulling", "ref", ref, "id", insp.ID)
		return PullResult{ImageID: insp.ID}, nil
	case client.IsErrConnectionFailed(err):
		return PullResult{}, engineErr(cli.DaemonHost(), "inspecting "+ref, err)
	}
	// Any other error (usually "no such image") means: pull.

	reg := want.Context().RegistryStr()
	res := PullResult{Pulled: true}
	wait := c.backoff
	for {
		res.Attempts++
		err = pullOnce(ctx, cli, ref, progress)
		if err == nil {
			break
		}
		switch {
		case ctx.Err() != nil:
			return res, fmt.Errorf("testrunner: pulling %s: %w", ref, ctx.Err())
		case client.IsErrConnectionFailed(err):
			return res, engineErr(cli.DaemonHost(), "pulling "+ref, err)
		case isMismatch(err):
			return res, fmt.Errorf("testrunner: pulling %s: %w: %w", ref, ErrDigestMismatch, err)
		case !retryable(err):
			return res, fmt.Errorf("testrunner: pulling %s from registry %s: %w", ref, reg, err)
		case res.Attempts >= c.attempts:
			return res, fmt.Errorf("testrunner: registry %s did not answer after %d attempts pulling %s: %w", reg, res.Attempts, ref, err)
		}
		c.log.Warn("testrunner: pull failed, retrying", "ref", ref, "attempt", res.Attempts, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("testrunner: pulling %s: %w", ref, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, c.backoff*16)
	}
	insp, err = cli.ImageInspect(ctx, ref)
	if err != nil {
		return res, engineErr(cli.DaemonHost(), "inspecting pulled "+ref, err)
	}
	if err := hasDigest(insp, want); err != nil {
		return res, err
	}
	res.ImageID = insp.ID
	c.log.Info("testrunner: pulled", "ref", ref, "id", insp.ID, "attempts", res.Attempts)
	return res, nil
}

func pullOnce(ctx context.Context, cli ImageEngine, ref string, progress io.Writer) error {
	rc, err := cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	return jsonmessage.DisplayJSONMessagesStream(rc, progress, 0, false, nil)
}

// hasDigest checks that the image carries want among its repo digests.
func hasDigest(insp image.InspectResponse, want name.Digest) error {
	for _, rd := range insp.RepoDigests {
		d, err := name.NewDigest(rd)
		if err != nil {
			continue
		}
		if d.Context().Name() == want.Context().Name() && d.DigestStr() == want.DigestStr() {
			return nil
		}
	}
	return fmt.Errorf("testrunner: %w: image %s has repo digests %v, want %s", ErrDigestMismatch, insp.ID, insp.RepoDigests, want)
}

// retryable reports whether a pull error looks like a registry that did
// not answer (or answered "try later"), judged from the engine's message.
func retryable(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{
		"connection refused", "connection reset", "no route to host", "network is unreachable",
		"i/o timeout", "timeout", "tls handshake", "eof", "no such host", "server misbehaving",
		"temporary", "too many requests", "service unavailable", "bad gateway", "gateway timeout",
		" 429", " 502", " 503", " 504",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// isMismatch reports whether the engine rejected content that does not
// match its digest.
func isMismatch(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "verification failed") || strings.Contains(msg, "digest mismatch") ||
		strings.Contains(msg, "digest did not match")
}
