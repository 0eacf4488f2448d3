package replay_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/autokit/session/replay"
)

// A recording answers a client as the worker did; a call it does not
// hold is a divergence.
func Example() {
	rec := &session.Recording{Header: session.Header{Version: session.Version}, Events: []session.Event{
		{T: session.Duration(time.Second), Kind: session.KindCall, Call: &session.Call{Seq: 1,
			Method: "POST", Path: api.PathExec, Body: []byte(`{"command":"uname -r","timeout_seconds":120}`),
			Status: 200, ContentType: api.ContentTypeNDJSON,
			Response: []byte(`{"stream":"stdout","data":"Ni4xLjAK"}` + "\n" + `{"exit_code":0}` + "\n")}},
	}}
	h, err := replay.New(rec)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, _ := client.New(srv.URL, client.WithLease("replay"))

	out, _, err := c.ExecOutput(context.Background(), "uname -r")
	fmt.Printf("%q %v\n", out, err)
	_, _, err = c.ExecOutput(context.Background(), "uname -a")
	fmt.Println(client.ErrorCode(err))
	d, _ := h.FirstDivergence()
	fmt.Println(d.Request)
	// Output:
	// "6.1.0\n" <nil>
	// replay_divergence
	// POST /v1/exec {"command":"uname -a"}
}
