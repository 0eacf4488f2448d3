// Command cmd builds and publishes a release's assets (package
// internal/release); `make release-assets` and the release workflow run it:
//
//	go run ./internal/release/cmd build [-o build/release] [-version v1.2.3] [-no-image]
//	go run ./internal/release/cmd verify [-o build/release]
//	go run ./internal/release/cmd push -repository HOST/OWNER/NAME [-tag v1.2.3] [-o build/release]
//
// build prints the assets and the image digest; push prints
// "digest=sha256:…" and "ref=…@sha256:…", lines a workflow step can append
// to $GITHUB_OUTPUT.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/balena/leviathan-action/internal/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

const usage = "usage: release build|verify|push [flags] (release <subcommand> -h for the flags)"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "build/release", "the assets' directory")
	switch args[0] {
	case "build":
		repo := fs.String("repo", ".", "this repository's checkout")
		version := fs.String("version", "", "the release's version (v1.2.3), recorded in the image's labels")
		noImage := fs.Bool("no-image", false, "skip the testrunner image")
		verbose := fs.Bool("v", false, "log each step")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		level := slog.LevelWarn
		if *verbose {
			level = slog.LevelDebug
		}
		res, err := release.Build(ctx, release.Options{RepoRoot: *repo, Out: *out, Version: *version, NoImage: *noImage,
			Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s/%s:\n%s", *out, release.SumsFile, release.FormatSums(res.Assets))
		if res.ImageDigest != "" {
			fmt.Fprintf(stdout, "testrunner image index %s\n", res.ImageDigest)
		}
		return nil
	case "verify":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		as, err := release.Verify(*out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d files match %s\n", *out, len(as), release.SumsFile)
		return nil
	case "push":
		repository := fs.String("repository", "", "where to push the testrunner image (HOST/OWNER/NAME)")
		tag := fs.String("tag", "", "also tag the pushed image (v1.2.3)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ref, err := release.Push(ctx, release.PushOptions{Dir: *out, Repository: *repository, Tag: *tag})
		if err != nil {
			return err
		}
		_, d, _ := strings.Cut(ref, "@")
		fmt.Fprintf(stdout, "digest=%s\nref=%s\n", d, ref)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q; %s", args[0], usage)
}
