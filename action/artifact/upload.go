package artifact

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
)

// File is one member of an uploaded artifact. Exactly one of Reader and
// Write gives its content.
type File struct {
	// Name is the member's slash-separated path inside the artifact.
	Name string
	// ModTime is the member's modification time (default: now).
	ModTime time.Time
	// Reader is read to EOF for the content.
	Reader io.Reader
	// Write writes the content to w; for producers such as compressors.
	Write func(w io.Writer) error
	// Compress deflates the member at the fastest level; without it the
	// member is written as stored deflate blocks (for content that is
	// already compressed).
	Compress bool
}

// Artifact describes an uploaded artifact.
type Artifact struct {
	ID   int64
	Name string
	// Size is the size of the zip archive in bytes; ListArtifacts may
	// report another figure on servers that count differently.
	Size int64
	// Digest is "sha256:<hex>" of the zip archive, when known.
	Digest    string
	CreatedAt time.Time
}

type createArtifactRequest struct {
	WorkflowRunBackendID    string `json:"workflow_run_backend_id"`
	WorkflowJobRunBackendID string `json:"workflow_job_run_backend_id"`
	Name                    string `json:"name"`
	Version                 int    `json:"version"`
}

type createArtifactResponse struct {
	OK              bool   `json:"ok"`
	SignedUploadURL string `json:"signedUploadUrl"`
}

type finalizeArtifactRequest struct {
	WorkflowRunBackendID    string `json:"workflow_run_backend_id"`
	WorkflowJobRunBackendID string `json:"workflow_job_run_backend_id"`
	Name                    string `json:"name"`
	Size                    int64s `json:"size"`
	Hash                    string `json:"hash,omitempty"`
}

type finalizeArtifactResponse struct {
	OK         bool   `json:"ok"`
	ArtifactID int64s `json:"artifactId"`
}

// blobAPIVersion is the Azure Storage REST version sent with blob requests.
const blobAPIVersion = "2023-11-03"

// Upload zips files into the artifact name of this job's run and returns it
// once finalized. The archive is streamed: nothing is spooled to disk, and
// memory holds three blocks.
func (c *Client) Upload(ctx context.Context, name string, files ...File) (Artifact, error) {
	if name == "" {
		return Artifact{}, errEmptyName
	}
	if strings.ContainsAny(name, `":<>|*?\/`+"\r\n") {
		return Artifact{}, fmt.Errorf("artifact: name %q: must not contain \" : < > | * ? \\ / or newlines", name)
	}
	for i, f := range files {
		if f.Name == "" || (f.Reader == nil) == (f.Write == nil) {
			return Artifact{}, fmt.Errorf("artifact: file %d %q: want a name and exactly one of Reader and Write", i, f.Name)
		}
	}
	var cr createArtifactResponse
	err := c.call(ctx, "CreateArtifact", createArtifactRequest{
		WorkflowRunBackendID: c.ids.Run, WorkflowJobRunBackendID: c.ids.Job, Name: name, Version: 4,
	}, &cr)
	if err != nil {
		return Artifact{}, err
	}
	if !cr.OK || cr.SignedUploadURL == "" {
		return Artifact{}, fmt.Errorf("artifact: CreateArtifact %q: the service answered ok=%t without an upload URL", name, cr.OK)
	}
	c.log.DebugContext(ctx, "artifact: created", "name", name)

	size, sum, err := c.uploadBlob(ctx, cr.SignedUploadURL, files)
	if err != nil {
		return Artifact{}, fmt.Errorf("artifact: uploading %q: %w", name, err)
	}
	digest := "sha256:" + hex.EncodeToString(sum)
	var fr finalizeArtifactResponse
	err = c.call(ctx, "FinalizeArtifact", finalizeArtifactRequest{
		WorkflowRunBackendID: c.ids.Run, WorkflowJobRunBackendID: c.ids.Job, Name: name, Size: int64s(size), Hash: digest,
	}, &fr)
	if err != nil {
		return Artifact{}, err
	}
	if !fr.OK {
		return Artifact{}, fmt.Errorf("artifact: FinalizeArtifact %q: the service answered ok=false", name)
	}
	c.log.InfoContext(ctx, "artifact: uploaded", "name", name, "id", int64(fr.ArtifactID), "bytes", size)
	return Artifact{ID: int64(fr.ArtifactID), Name: name, Size: size, Digest: digest, CreatedAt: time.Now()}, nil
}

// writeZip writes files as a zip archive to w.
func writeZip(w io.Writer, files []File) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.NoCompression)
	})
	fast := func(out io.Writer) (io.WriteCloser, error) { return flate.NewWriter(out, flate.BestSpeed) }
	for _, f := range files {
		mt := f.ModTime
		if mt.IsZero() {
			mt = time.Now()
		}
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: mt}
		h.SetMode(0o644)
		var mw io.Writer
		var err error
		if f.Compress {
			mw, err = createDeflated(zw, h, fast)
		} else {
			mw, err = zw.CreateHeader(h)
		}
		if err != nil {
			return fmt.Errorf("zip %s: %w", f.Name, err)
		}
		if f.Reader != nil {
			_, err = io.Copy(mw, f.Reader)
		} else {
			err = f.Write(mw)
		}
		if err != nil {
			return fmt.Errorf("zip %s: %w", f.Name, err)
		}
	}
	return zw.Close()
}

// createDeflated adds a deflate member compressed by comp. zip.Writer keeps
// one compressor per method and picks it in CreateHeader, so comp is
// registered for this call only.
func createDeflated(zw *zip.Writer, h *zip.FileHeader, comp zip.Compressor) (io.Writer, error) {
	zw.RegisterCompressor(zip.Deflate, comp)
	w, err := zw.CreateHeader(h)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.NoCompression)
	})
	return w, err
}

type block struct {
	buf []byte
	n   int
}

// uploadBlob streams the zip of files to the signed URL as blocks and
// commits the block list. It returns the archive's size and SHA-256.
func (c *Client) uploadBlob(ctx context.Context, signed string, files []File) (int64, []byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() { pw.CloseWithError(writeZip(pw, files)) })
	defer wg.Wait()
	defer pr.CloseWithError(errors.New("upload stopped"))

	free := make(chan []byte, 3)
	for range 3 {
		free <- make([]byte, c.block)
	}
	full := make(chan block, 1)
	h := sha256.New()
	var size int64
	var readErr error
	wg.Go(func() {
		defer close(full)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			n, err := io.ReadFull(pr, buf)
			if n > 0 {
				h.Write(buf[:n])
				size += int64(n)
				select {
				case full <- block{buf, n}:
				case <-ctx.Done():
					return
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				readErr = err
				return
			}
		}
	})

	var ids []string
	var done int64
	for b := range full {
		id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "leviathan-block-%08d", len(ids)))
		if err := c.putBlock(ctx, signed, id, b.buf[:b.n]); err != nil {
			cancel()
			pr.CloseWithError(err)
			for range full {
			}
			return 0, nil, err
		}
		ids = append(ids, id)
		done += int64(b.n)
		if c.progress != nil {
			c.progress(done)
		}
		free <- b.buf
	}
	if readErr != nil {
		return 0, nil, fmt.Errorf("building the zip: %w", readErr)
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	if err := c.putBlockList(ctx, signed, ids); err != nil {
		return 0, nil, err
	}
	return size, h.Sum(nil), nil
}

func withQuery(signed, extra string) (string, error) {
	u, err := url.Parse(signed)
	if err != nil {
		return "", fmt.Errorf("signed URL: %w", err)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += extra
	return u.String(), nil
}

// putBlock is Azure's Put Block: the block is staged under its id.
func (c *Client) putBlock(ctx context.Context, signed, id string, data []byte) error {
	target, err := withQuery(signed, "comp=block&blockid="+url.QueryEscape(id))
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, "Put Block", func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPut, target, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("x-ms-version", blobAPIVersion)
		return req, nil
	})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// putBlockList is Azure's Put Block List: the staged blocks, in order,
// become the blob.
func (c *Client) putBlockList(ctx context.Context, signed string, ids []string) error {
	target, err := withQuery(signed, "comp=blocklist")
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for _, id := range ids {
		b.WriteString("<Latest>" + id + "</Latest>")
	}
	b.WriteString("</BlockList>")
	body := b.String()
	resp, err := c.do(ctx, "Put Block List", func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPut, target, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/xml")
		req.Header.Set("x-ms-version", blobAPIVersion)
		req.Header.Set("x-ms-blob-content-type", "application/zip")
		return req, nil
	})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}
