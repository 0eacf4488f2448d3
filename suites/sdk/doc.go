// Package sdk is the suite SDK: it gives an ordinary Go test its DUT,
// driven through the worker API, so `go test` flags (-run, -v, -json),
// subtests and t.Skip work as usual.
//
// The worker is found through the environment the testrunner (or
// `leviathan run`) sets:
//
//	LEVIATHAN_WORKER_URL    the worker's base URL (required)
//	LEVIATHAN_WORKER_TOKEN  its bearer token, when it has one
//	LEVIATHAN_LEASE         the lease the run holds on the DUT; on a worker with a
//	                        token also the credential, good for that lease only
//
// Without LEVIATHAN_WORKER_URL a test that asks for its DUT is skipped with
// that reason, so `go test ./...` in a suite's repository stays green.
//
// Capabilities the DUT lacks (screen, keyboard, …) make Require skip the
// test with the reason, never fail it.
package sdk
