// Package ghlogtest models how the GitHub Actions runner finds workflow
// commands in a step's output, for tests that check that untrusted text
// issues none.
//
// The model follows GitHub's documentation of workflow commands and the
// runner's handling of them:
//   - Output is read line by line; "\n", "\r\n" and a lone "\r" each end a
//     line.
//   - Leading whitespace is trimmed; a line that then starts with
//     "::NAME ...::DATA" is command NAME. The legacy form "##[NAME ...]DATA"
//     is a command wherever it appears in the line.
//   - "::stop-commands::TOKEN" stops processing: no command is processed,
//     ::group:: and ::add-mask:: included, until a command named TOKEN
//     ("::TOKEN::"), compared without regard to case. An empty TOKEN never
//     resumes.
//
// Limits: the model is stricter than the runner, which ignores command
// names it does not know; here any name is a command. It does not model
// what a command does, nor ACTIONS_ALLOW_UNSECURE_COMMANDS, nor the
// runner's refusal of some stop tokens (a command's name, "pause-logging").
package ghlogtest
