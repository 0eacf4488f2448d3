// Package depstest tests scripts/deps.sh, the step `make demo` and `make
// test` run first to install the Debian packages they need. It holds no
// code: its test runs the script under bash with PATH holding only stubs of
// the four commands the script uses (dpkg-query, apt-get, sudo, id), which
// record their calls, so no package is ever installed.
//
// Limits: the stubs answer as Debian's tools do for the arguments the
// script passes, nothing more; the real apt-get and sudo are not run.
package depstest
