// Package report turns a JUnit XML file into GitHub check runs, failure
// annotations, a job summary and step outputs: the action's "report"
// mode, usable on its own with any JUnit file.
//
// Parse or ParseFile reads JUnit (go-junit-report's, as Leviathan's
// runner writes it, or any other tool's) into Results. They read the
// whole file into memory, and the Results share it. A scanner of the
// package's own decodes the XML test tools write; what it does not
// handle (a DOCTYPE, non-ASCII element names, an encoding other than
// UTF-8) and every malformed file go to encoding/xml, so what is
// accepted, and the errors, are encoding/xml's. A Reporter then
// creates one check run per suite and device type, named
// "leviathan / <suite> / <device type>" by default (a part left empty,
// such as an unknown device type, is dropped with its separator), with:
//
//   - a conclusion (failure when a test failed, success when some passed,
//     skipped when all were skipped, neutral when there were none);
//   - a Markdown summary cut to GitHub's 65 535-character limit, ending
//     with a pointer to the full report when cut;
//   - an annotation for every failed test at its file and line (the
//     testcase's file/line attributes, else the first "file_test.go:123:"
//     line of a Go test's output), carrying the test's output and its
//     serial-log excerpt in raw_details. GitHub shows annotations only on
//     repository-relative paths, so a Resolver places the file in
//     Config.Workspace: an absolute path under it is made relative; a bare
//     name is looked for in Config.SourceDir, then in the directory of the
//     case's package (its classname, the import path go-junit-report
//     writes, mapped to a directory through the workspace's go.mod files,
//     nested modules included), then as the one file of that name in the
//     workspace; a name found twice or nowhere is kept as written. A
//     failure at an absolute path outside the workspace (or a path that
//     leaves it) gets no annotation: it is listed in the check run's
//     summary, with the file's base name;
//   - 50 annotations per request, as GitHub allows: the create call takes
//     the first 50 and each update 50 more, the last one completing the
//     run, so a check run costs ceil(failures/50) calls and at least one.
//
// It writes the job summary ($GITHUB_STEP_SUMMARY) and the outputs
// passed, failed, skipped, conclusion and check-run-url through
// go-githubactions, masks Config.Secrets with ::add-mask:: and replaces
// them with *** in everything it sends.
//
// Authentication: NewAppClient authenticates as a GitHub App installation
// (ghinstallation), the recommended way; NewTokenClient takes
// GITHUB_TOKEN. Check runs created with GITHUB_TOKEN are attached to an
// arbitrary check suite of the workflow run, so they may show under
// another workflow in the UI. When the token cannot write check runs at
// all (403 "Resource not accessible by integration", as in a pull request
// from a fork), failures are reported as ::error file=…,line=…:: workflow
// commands instead; GitHub shows at most 10 of those per step.
//
// Both clients retry 5xx answers, network errors, 429 and secondary rate
// limits (403 with Retry-After) with bounded exponential backoff
// (RetryPolicy, whose Sleep tests replace); 401 is returned at once as an
// *APIError. A check-run create that GitHub performed but answered with a
// 5xx is retried and may leave a duplicate in_progress run.
//
// Limits: one device type per Reporter; a failure without a known
// location is annotated at line 1 of the JUnit file when that file is in
// the workspace (with no workspace known: when its path is relative), and
// not at all otherwise; the workspace walk that finds
// go.mod files and unique names stops after MaxWalkEntries entries (and
// skips .git, vendor and node_modules); a check run's summary lists
// failed and skipped tests, not passed ones.
package report
