// Package hup is a suite submit's tests compile.
package hup

import "testing"

func TestHUP(t *testing.T) {}
