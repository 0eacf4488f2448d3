package session_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/balena/leviathan-action/autokit/session"
)

func Example() {
	// The worker records a lease: its id is a secret.
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Millisecond); return now }
	r := session.NewRecorder(session.Header{DUT: "rpi4-01"}, session.RecorderOptions{
		Secrets: []string{"LEASEID"},
		Clock:   clock,
	})
	r.Power(true)
	r.Console(0, []byte("login: "))
	c := r.StartCall("POST", "/v1/lease/LEASEID/heartbeat", "")
	c.Respond(200, "application/json")
	c.Write([]byte(`{"id":"LEASEID"}`))
	c.Finish()

	// The testbot fetches it; replay and the report read it.
	var file bytes.Buffer
	if err := session.Encode(&file, r.Snapshot()); err != nil {
		panic(err)
	}
	rec, err := session.Read(&file)
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Header.DUT)
	for _, ev := range rec.Events {
		switch ev.Kind {
		case session.KindCall:
			fmt.Println(ev.T, ev.Kind, ev.Call.Method, ev.Call.Path, ev.Call.Status, string(ev.Call.Response), ev.Call.Elapsed)
		default:
			fmt.Printf("%v %s %s%q\n", ev.T, ev.Kind, ev.What, ev.Data)
		}
	}
	// Output:
	// rpi4-01
	// 1ms power on""
	// 2ms console "login: "
	// 3ms call POST /v1/lease/[redacted]/heartbeat 200 {"id":"[redacted]"} 1ms
}
