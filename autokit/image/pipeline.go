package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"time"
)

// chunk is a buffer of the decompressed image: n bytes at image offset off.
type chunk struct {
	off int64
	buf []byte
	n   int
}

// pipeline runs the two stages ahead of the writer, so reading, hashing
// and writing overlap: the reader decompresses into free buffers, the
// hasher hashes them (when a digest is wanted) and passes them on in
// full; the writer (writer.drain) writes them and frees them. pipeDepth
// buffers of ChunkSize bytes circulate; nothing else is allocated per
// chunk.
type pipeline struct {
	free    *chunkBuffers
	full    chan chunk
	hashing bool
	hash    hash.Hash
	// anyImage lets through a first chunk that is not a disk image's.
	anyImage bool
	// readErr is the reader's failure. It is written before full closes;
	// look at it only after full was drained without cancellation.
	readErr error
	// readerDone closes once the reader stopped using the decoder.
	readerDone chan struct{}
}

// newPipeline allocates the pipeline's buffers. hashing says whether the
// image's SHA-256 is wanted.
func newPipeline(hashing bool) *pipeline {
	p := &pipeline{
		free:       newChunkBuffers(pipeDepth),
		full:       make(chan chunk, pipeDepth),
		hashing:    hashing,
		hash:       sha256.New(),
		readerDone: make(chan struct{}),
	}
	return p
}

// start starts the reader, which decompresses r (of the given format),
// and the hasher. Both stop when ctx is cancelled.
func (p *pipeline) start(ctx context.Context, r io.Reader, format Format) {
	read := make(chan chunk, pipeDepth)
	go p.hashChunks(ctx, read)
	go p.readChunks(ctx, r, format, read)
}

// hashChunks hashes the chunks from read, when hashing, and passes them
// on to full, which it closes at the end.
func (p *pipeline) hashChunks(ctx context.Context, read <-chan chunk) {
	defer close(p.full)
	for c := range read {
		if p.hashing {
			p.hash.Write(c.buf[:c.n])
		}
		select {
		case p.full <- c:
		case <-ctx.Done():
			return
		}
	}
}

// readChunks fills free buffers from r and sends them to read, which it
// closes at the end. It fails, in readErr, when the first bytes are not
// a disk image or r fails.
func (p *pipeline) readChunks(ctx context.Context, r io.Reader, format Format, read chan<- chunk) {
	defer close(p.readerDone)
	defer close(read)
	var off int64
	for {
		buf, ok := p.free.take(ctx)
		if !ok {
			return
		}
		n, err := fill(r, buf)
		// A stream that breaks at once is a read error, not an empty image.
		if off == 0 && (err == nil || err == io.EOF || !p.anyImage) {
			if p.readErr = checkHead(buf[:n], format, p.anyImage); p.readErr != nil {
				return
			}
		}
		if err != nil && err != io.EOF {
			p.readErr = fmt.Errorf("image: reading the %s stream at %d bytes: %w", format, off+int64(n), err)
			return
		}
		if n > 0 {
			select {
			case read <- chunk{off, buf, n}:
			case <-ctx.Done():
				return
			}
			off += int64(n)
		}
		if err == io.EOF {
			return
		}
	}
}

// sum is the image's hex SHA-256, or "" when it was not hashed. Call it
// once the image was drained.
func (p *pipeline) sum() string {
	if !p.hashing {
		return ""
	}
	return hex.EncodeToString(p.hash.Sum(nil))
}

// release calls release (the decoder's) once the reader stopped using
// the decoder. A reader stuck in a source's Read is left behind after 5
// seconds, not raced.
func (p *pipeline) release(release func()) {
	select {
	case <-p.readerDone:
		release()
	case <-time.After(5 * time.Second):
	}
}
