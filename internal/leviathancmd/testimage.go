package leviathancmd

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/balena/leviathan-action/qemukit/testimage"
)

func testimageCmd(ctx context.Context, e Env, args []string) error {
	fs := e.flags("testimage [flags]", `Build the Leviathan test OS image from Debian packages (apt-get download),
without root. An unchanged image is reused.`)
	build := fs.String("build-dir", "build", "build outputs and download cache")
	panicVariant := fs.Bool("panic", false, "build the variant whose kernel panics at boot (for tests)")
	verbose := fs.Bool("v", false, "log each build step")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := testimage.Build(ctx, testimage.Options{
		CacheDir: filepath.Join(*build, "cache", "debs"),
		OutDir:   filepath.Join(*build, "testimage"),
		Panic:    *panicVariant,
		Logger:   e.logger(*verbose, slog.LevelWarn),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s\n  %s %s, kernel %s, %d MiB, sha256 %s\n", m.Image, m.Name, m.Version, m.Kernel, m.Size>>20, m.SHA256)
	return nil
}
