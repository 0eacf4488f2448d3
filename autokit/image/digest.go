package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// DecompressedSHA256 decompresses src and returns the image's hex SHA-256
// and size, writing nothing. It is the pre-pass that lets a flash with a
// known expected digest be refused before the target is touched, at the
// cost of reading and decompressing the image twice.
func DecompressedSHA256(ctx context.Context, src io.Reader) (sum string, size int64, f Format, err error) {
	r, f, release, err := Decompress(src)
	if err != nil {
		return "", 0, f, err
	}
	defer release()
	h := sha256.New()
	buf := make([]byte, ChunkSize)
	for {
		if err := ctx.Err(); err != nil {
			return "", size, f, fmt.Errorf("image: checksum pre-pass stopped: %w", err)
		}
		n, err := fill(r, buf)
		h.Write(buf[:n])
		size += int64(n)
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), size, f, nil
		}
		if err != nil {
			return "", size, f, fmt.Errorf("image: reading the %s stream at %d bytes: %w", f, size, err)
		}
	}
}

// FileSHA256 returns the hex SHA-256 of the first size bytes of f, read
// with ReadAt (the file's offset is not used): an image file's digest,
// computed beside a flash that was asked not to compute it.
func FileSHA256(ctx context.Context, f *os.File, size int64) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("image: hashing %s stopped: %w", f.Name(), err)
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		if err == io.EOF && off < size {
			return "", fmt.Errorf("image: hashing %s: it ends at %d bytes, not %d (did it shrink?): %w", f.Name(), off, size, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("image: hashing %s: %w", f.Name(), err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
