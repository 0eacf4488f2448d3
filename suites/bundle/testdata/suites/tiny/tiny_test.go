package tiny

import "testing"

func TestTiny(t *testing.T) {}
