package leviathancmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/balena/leviathan-action/internal/testrunnerimage"
)

func testrunnerImageCmd(ctx context.Context, e Env, args []string) error {
	fs := e.flags("testrunner-image [flags]", `Build the testrunner container image in Go (no Docker build): FROM scratch
with the static testrunner, test2json and the compiled suites, as a tarball
for "docker load" (or an OCI layout with --layout). The digest depends only
on the inputs, so the same checkout gives the same image.`)
	out := fs.String("o", filepath.Join("build", "testrunner.tar"), "output tarball")
	layout := fs.String("layout", "", "write an OCI image layout to this directory instead of a tarball")
	ref := fs.String("tag", testrunnerimage.DefaultRef, "image reference recorded in the tarball")
	root := fs.String("repo", ".", "this repository's checkout")
	var suites stringList
	fs.Var(&suites, "suite", "suite directory to ship, relative to --repo (repeatable; default ./suites/os)")
	verbose := fs.Bool("v", false, "log each build step")
	if err := parse(fs, args); err != nil {
		return err
	}
	img, err := testrunnerimage.Build(ctx, testrunnerimage.Options{RepoRoot: *root, Suites: suites,
		Log: e.logger(*verbose, slog.LevelWarn)})
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if *layout != "" {
		if err := testrunnerimage.WriteLayout(img, *layout, *ref); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s (OCI layout)\n  %s@%s\n", *layout, *ref, digest)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := testrunnerimage.WriteTarball(img, *out, *ref); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s\n  %s, image digest %s\n  load it with: docker load -i %s\n", *out, *ref, digest, *out)
	return nil
}
