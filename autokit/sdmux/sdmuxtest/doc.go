// Package sdmuxtest is the conformance suite for dut.Storage
// implementations, and a FakeMux for tests.
//
// Conformance opens the storage, writes two blocks, reads them back through
// ReadAt and through Seek and Read, syncs, checks that a second Open fails
// without blocking while the target is open, closes, and checks that the
// storage opens again after Close. It does not expect the data to survive a
// reopen: QemuKit empties its disk on Open.
package sdmuxtest
