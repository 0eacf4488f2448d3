package zipstream_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/balena/leviathan-action/autokit/image/zipstream"
)

func ExampleOne() {
	var arc bytes.Buffer
	zw := zip.NewWriter(&arc)
	w, _ := zw.Create("balena.img")
	w.Write([]byte("disk image bytes"))
	w, _ = zw.Create("README")
	w.Write([]byte("read me"))
	zw.Close()

	name, r, err := zipstream.One(&arc)
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := io.ReadAll(r) // the bytes stream before the second file is seen
	var several *zipstream.SeveralError
	fmt.Println(name, len(img), errors.As(err, &several), several.Names)
	// Output: balena.img 16 true [balena.img README]
}
