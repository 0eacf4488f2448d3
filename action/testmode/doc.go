// Package testmode is the action's "test" mode as a library: on a
// testbot's self-hosted runner it says where the OS image and the suites
// come from, and package testbot does the run — flash the leased DUT
// through the local worker, check the image's SHA-256, boot the DUT, run
// the suites and leave their reports in a directory.
//
// The image comes from one of four sources (Source): a local path, an
// http(s) URL (package source: a broken download resumes with Range
// requests), an artifact of this workflow run by name, or an artifact of
// any run by id through the REST API (package artifact). An artifact
// names its image by member path ("image/balena.img", as the upload-artifact
// action stores it; "balena.img.zst" as submit does). Raw and gzip, xz,
// zstd or bzip2 compressed images are accepted; the worker decompresses.
//
// No copy of the image is stored on the testbot: a file or URL is read as a
// stream, and an artifact's member is extracted from the zip as it
// downloads, through an io.Pipe, into the worker's flash upload. An
// artifact's member size is not known before it is read, so that upload is
// sent chunked (the worker does not need the size). Before the upload
// starts, the first MiB is read and decompressed in memory to check that it
// holds a partition table, so a wrong file fails at once (image.ErrNotDiskImage)
// without touching the DUT's storage.
//
// The worker checks Options.SHA256 against the decompressed image while it
// flashes; a mismatch fails the flash and Run returns testbot.ErrChecksumMismatch.
// When a SHA-256 is given and the worker's image cache holds an upload with
// that SHA-256 (a raw image flashed before), the cached copy is flashed and
// nothing is downloaded.
//
// The DUT's lease: on a testbot the runner hook has leased the DUT and
// exported LEVIATHAN_WORKER_URL, LEVIATHAN_LEASE, LEVIATHAN_WORKER_TOKEN,
// LEVIATHAN_TESTRUNNER_IMAGE and LEVIATHAN_JOB_DIR (FromEnv reads them).
// Run uses that lease and never releases it: job-completed does. Without a
// lease (a runner without the hook, a laptop) Run takes one, keeps it alive
// and releases it before it returns, which powers the DUT off. On every
// error path Run powers the DUT off.
//
// Suites run in the testrunner container (package autokit/testrunner, started
// by the worker) when a testrunner image is given, directly otherwise
// (package gotest, through test2json). Built-in suites are bare names ("os"): <SuitesDir>/os
// compiled in direct mode, /suites/os.test in the image. Anything else is
// a path in the workspace — a Go test package (write "./mysuite" for a
// package in the current directory) or a compiled suite ("os.test").
//
// A workspace package comes compiled from the artifact when the image
// source is an artifact that submit made with the suite (package bundle):
// before anything else, Run reads the artifact's first members — the
// manifest, the binaries for runtime.GOARCH of the suites named, matched by
// their path relative to Options.Workspace — and stops before the image;
// each binary's size, SHA-256 and build information are checked, and a
// mismatch fails the run with the DUT untouched. Without Source.Member the
// manifest names the image. A package the artifact does not hold is
// compiled here, statically, in an environment without secrets
// (gotest.CleanBuildEnv; GOPROXY=off unless SuiteGoProxy), and the log says
// why. The user's binaries are kept in a private directory (0700) under
// WorkDir and, in container mode, uploaded to the lease; the worker mounts
// them read-only into the container. Only the Env entries whose names are in AllowEnv reach the
// suites; Mask lists their values for the job log's mask.
//
// Errors mean the run could not complete (bad options, the image source,
// the flash, the boot, the infrastructure). Failing tests are not an
// error: they are counted in the Result (Result.OK).
//
// Suites start from a minimal environment (PATH, HOME, TMPDIR, LANG,
// TZ) plus the worker's variables and the allow-listed Env entries: the
// step's tokens (ACTIONS_RUNTIME_TOKEN, INPUT_*) never reach them.
//
// Limits:
//   - A workspace suite's directory must exist on the testbot only when
//     it is compiled there; the action's config checks it in any case.
//   - The worker cache is looked up by the image's SHA-256, which equals
//     the upload's only for raw images: a compressed image is always sent.
//   - A broken artifact download is not resumed (package artifact retries
//     only until the response starts); the flash fails and names the cause.
//   - Progress lines name a URL without its query or password, but errors
//     from package source may carry the URL as given.
//   - After a successful run the DUT is left powered on for job-completed
//     (or the release of Run's own lease) to switch off.
package testmode
