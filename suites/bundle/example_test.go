package bundle_test

import (
	"fmt"

	"github.com/balena/leviathan-action/suites/bundle"
)

// Suites are matched by their normalised workspace path.
func ExampleNormPath() {
	p, _ := bundle.NormPath("./tests/suites/hup/")
	fmt.Println(p)
	_, err := bundle.NormPath("../other/hup")
	fmt.Println(err)
	// Output:
	// tests/suites/hup
	// bundle: suite path "../other/hup" is not a directory inside the workspace
}

// A testbot finds the binary of a suite for its architecture.
func ExampleParse() {
	m, err := bundle.Parse([]byte(`{"version": 1, "image": "balena.img.zst", "suites": [
		{"name": "hup", "path": "tests/suites/hup", "goarch": "arm64", "size": 9383772, "go": "go1.26.0",
		 "sha256": "1cd65c7a3f83cef4fffc4a8c879a1a0dda044fcdec0e94243bf6189744d31a7d"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	e, ok := m.Find("tests/suites/hup", "arm64")
	fmt.Println(ok, e.Member(), m.Image)
	_, ok = m.Find("tests/suites/hup", "amd64")
	fmt.Println(ok, m.ArchesOf("tests/suites/hup"))
	// Output:
	// true suites/hup.arm64.test balena.img.zst
	// false [arm64]
}
