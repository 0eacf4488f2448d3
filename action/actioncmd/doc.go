// Package actioncmd implements the leviathan-action command, the entrypoint of
// the balena/leviathan-action GitHub Action, as Env.Execute so tests drive
// it in-process. It reads package config, masks every secret before it
// writes anything else, and runs one mode:
//
//   - submit (build side): checks the image and uploads it through
//     package submit as a workflow artifact, sets the outputs
//     artifact-name, artifact-id and image-sha256, writes a job summary
//     (artifact, sizes, compression ratio, SHA-256) and, when
//     dispatch-workflow is set, starts that workflow for the image;
//   - test (testbot side): resolves the image source, hands the run to a
//     Tester (flash through the worker, run the suites, write JUnit and
//     logs) and then reports the JUnit file as in report mode;
//   - report: publishes JUnit files through package report as check runs
//     with annotations, a job summary and the outputs passed, failed,
//     skipped, conclusion and check-run-url.
//
// GitHub is reached as a GitHub App installation when app-id is set, with
// github-token otherwise; check runs made with GITHUB_TOKEN land in an
// arbitrary check suite of the run, which the command says in a notice.
//
// Exit codes: 0 done, 1 tests failed, 2 bad input (the message names the
// input), 3 could not complete (GitHub, the artifact service or the
// worker failed).
//
// The test mode's device stage is package action/testmode (Env.Tester
// replaces it in tests). Limits: configuration
// comes from the process environment (package config); the command takes
// no flags, only an optional mode argument for use outside a workflow.
package actioncmd
