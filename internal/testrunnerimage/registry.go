package testrunnerimage

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is an in-process image registry served over plain HTTP on
// 127.0.0.1. The Docker Engine treats registries on 127.0.0.0/8 as
// insecure, so it pulls from it without TLS.
type Registry struct {
	srv *httptest.Server
	// Host is the registry's address, 127.0.0.1:PORT.
	Host string
}

// RegistryOption configures NewRegistry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	wrap func(http.Handler) http.Handler
	log  *log.Logger
}

// WithMiddleware wraps the registry's handler, to count or alter requests
// in tests.
func WithMiddleware(wrap func(http.Handler) http.Handler) RegistryOption {
	return func(c *registryConfig) { c.wrap = wrap }
}

// WithRegistryLog sends the registry's request log to l; discarded by
// default.
func WithRegistryLog(l *log.Logger) RegistryOption {
	return func(c *registryConfig) { c.log = l }
}

// NewRegistry starts an empty in-process registry. Close stops it.
func NewRegistry(opts ...RegistryOption) *Registry {
	c := registryConfig{log: log.New(io.Discard, "", 0)}
	for _, o := range opts {
		o(&c)
	}
	var h http.Handler = registry.New(registry.Logger(c.log))
	if c.wrap != nil {
		h = c.wrap(h)
	}
	srv := httptest.NewServer(h)
	return &Registry{srv: srv, Host: strings.TrimPrefix(srv.URL, "http://")}
}

// Close stops the registry; its images are gone.
func (r *Registry) Close() { r.srv.Close() }

// Push uploads img as repo:latest (repo such as leviathan/testrunner) and
// returns its reference by digest: 127.0.0.1:PORT/repo@sha256:….
func (r *Registry) Push(ctx context.Context, repo string, img v1.Image) (string, error) {
	tag, err := name.NewTag(r.Host+"/"+repo+":latest", name.Insecure)
	if err != nil {
		return "", fmt.Errorf("testrunnerimage: %w", err)
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("testrunnerimage: pushing %s: %w", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("testrunnerimage: %w", err)
	}
	return tag.Context().Digest(d.String()).String(), nil
}

// Serve starts an in-process registry holding img as leviathan/testrunner
// and returns it with the image's reference by digest. The caller closes
// the registry.
func Serve(ctx context.Context, img v1.Image) (*Registry, string, error) {
	r := NewRegistry()
	ref, err := r.Push(ctx, "leviathan/testrunner", img)
	if err != nil {
		r.Close()
		return nil, "", err
	}
	return r, ref, nil
}
