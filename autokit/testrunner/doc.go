// Package testrunner runs the testrunner container through the Docker
// Engine API: it pulls the image by digest, runs the suites in a
// locked-down container that can reach only the worker, streams the output
// live, copies the reports out and removes everything it made.
//
// Pull reuses the engine's copy when the digest is already present, checks
// that the image it ends with carries the requested digest, and retries a
// registry that does not answer a bounded number of times.
//
// Run creates, per job, an internal bridge network (no route off the host)
// and a container attached to it only: not privileged, no Docker socket, a
// read-only root file system, a tmpfs /tmp, an anonymous volume at
// /reports (readable after exit, removed with the container), every
// capability dropped, no-new-privileges, memory, CPU and PID limits, user
// nobody and labels naming the run, job and lease. Spec.UserSuitesDir, a
// host directory of the user's compiled suites, is bind-mounted read-only
// at /user-suites; Run refuses it unless nobody can list it and run every
// file in it and it holds regular files only. The worker listens on
// the host's loopback, which a container cannot reach, so Run forwards TCP
// from the network's gateway address (the host's address on the bridge) to
// the worker for as long as the container runs, and passes
// LEVIATHAN_WORKER_URL=http://<gateway>:<port> into the testrunner.
//
// Run tells failing tests from a broken run: a container that was
// OOM-killed, killed by a signal, or exited without a junit.xml in its
// reports is a Result.InfraError; exit 1 with a junit.xml is failing tests.
//
// Cleanup removes every container, network and volume carrying a job's
// labels; the job-completed hook and the worker's dead-man's switch call it.
//
// Limits:
//   - The forwarder listens on the network's gateway address, so the
//     engine must share the caller's network namespace (a rootful engine on
//     the same host; not Docker Desktop or a remote DOCKER_HOST).
//   - The internal network forwards nothing off the host (the internet is
//     unreachable), but Docker's isolation rules filter forwarded traffic
//     only: the host's own services (on 0.0.0.0, the LAN address, the
//     gateway) would answer the container through its default route. Run
//     therefore names the job bridge (lvt-…) and, as root with iptables,
//     adds two INPUT rules for it — accept the forwarder's port, drop the
//     rest — removed when it returns (Cleanup removes those a killed Run
//     left). Result.HostClosed says whether it could; without root or
//     iptables it logs a warning and host services stay reachable.
//   - Output is grouped per top-level test by reading testrunner's progress
//     lines ("suite NAME", "  ▶ Test", "  ✓|✗|– Test"); other programs'
//     output passes through ungrouped.
//   - Pull accepts references by digest only, and decides whether a pull
//     error is worth retrying from the engine's message text, as the API
//     gives no error codes for registry failures.
package testrunner
