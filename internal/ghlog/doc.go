// Package ghlog keeps untrusted text from issuing GitHub Actions workflow
// commands when it is copied into a job log.
//
// The runner reads a step's output line by line and, after trimming leading
// whitespace, processes a line that starts with "::" as a workflow command
// (::set-output::, ::add-mask::, ::error::, ::group::, …), so indenting
// untrusted lines protects nothing. Writer uses the runner's documented
// mechanism instead: before the first untrusted byte it writes
// "::stop-commands::TOKEN", after which the runner processes no command at
// all until the line "::TOKEN::"; Close writes that line. TOKEN is 26 random
// characters from crypto/rand, new for every stopped region, so the text
// inside cannot resume processing by guessing it. Command writes a trusted
// command (a ::group:: line, say) between two regions.
//
// Package ghlogtest models the runner's rule, for tests that feed hostile
// text through a Writer.
//
// Limits:
//   - Everything untrusted that reaches one log must go through one Writer.
//     Text written to the log beside it (by another writer of the same
//     file or stream) is processed whenever commands are not stopped: before
//     the first Write, after Close, and after Command until the next Write.
//   - The stop line only works at the start of a line: code writing trusted
//     text to the same log beside the Writer must write whole lines. Writer
//     itself ends an unfinished untrusted line before every line it writes.
//   - The runner masks secrets (::add-mask::) in stopped regions too.
//     Recent runners mask the token as well, so the log may show
//     "::stop-commands::***".
//   - Stopping commands does not stop the log viewer from styling lines:
//     untrusted text that starts with "##[group]" or "##[error]" may still
//     fold or colour the displayed log. It creates no annotation, output,
//     mask, environment variable or group command.
package ghlog
