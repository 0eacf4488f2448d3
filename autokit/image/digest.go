package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
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
