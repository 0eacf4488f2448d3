// Package notests has no _test.go file.
package notests
