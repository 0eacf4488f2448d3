package testbot

import (
	"context"
	"errors"
	"fmt"

	"github.com/balena/leviathan-action/autokit/client"
)

// ErrLeaseLost is why a run stops when the worker drops the lease it took
// (client.Hold).
var ErrLeaseLost = client.ErrLeaseLost

// leaseCause returns err, or the lease's loss when that is why ctx ended.
func leaseCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && errors.Is(c, ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
		return fmt.Errorf("%w (%w)", err, c)
	}
	return err
}
