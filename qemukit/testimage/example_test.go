package testimage_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/balena/leviathan-action/qemukit/testimage"
)

// Build the test OS into build/testimage, reusing downloads in
// build/cache/debs; a second call with nothing changed returns at once.
func ExampleBuild() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m, err := testimage.Build(ctx, testimage.Options{
		CacheDir: "build/cache/debs",
		OutDir:   "build/testimage",
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Image, m.Kernel, m.SHA256)
	// Boot it, then wait on the serial console for testimage.Banner and
	// testimage.ReadyLine before connecting to port testimage.SSHPort.
}
