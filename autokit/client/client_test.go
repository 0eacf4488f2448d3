package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
)

func TestNewBadURL(t *testing.T) {
	for _, u := range []string{"localhost:8080", "", "ftp://host/", "http://", "::bad"} {
		if _, err := client.New(u); err == nil || !strings.Contains(err.Error(), "bad worker URL") {
			t.Errorf("New(%q) = %v; want a bad worker URL error", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080", "https://worker.example/prefix/"} {
		if _, err := client.New(u); err != nil {
			t.Errorf("New(%q) = %v", u, err)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Health(ctx)
	var ue *client.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T); want an UnreachableError", err, err)
	}
	for _, want := range []string{url, "unreachable", "leviathan worker"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestErrorFromNonJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "proxy says no", http.StatusBadGateway)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL + "/prefix")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusBadGateway || ce.Message != "proxy says no" || ce.Path != "/v1/health" {
		t.Fatalf("err = %#v", err)
	}
}

func TestErrorCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", api.ContentTypeJSON)
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(api.ErrorBody{Error: "worker: the DUT is already leased", Code: api.CodeLeaseHeld})
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Lease(context.Background(), "me", time.Minute)
	wrapped := fmt.Errorf("taking the DUT: %w", err)
	for _, tc := range []struct {
		name string
		err  error
		code api.ErrorCode
		is   []api.ErrorCode
		isnt []api.ErrorCode
	}{
		{"answer", err, api.CodeLeaseHeld, []api.ErrorCode{api.CodeLeaseHeld}, []api.ErrorCode{api.CodeBusy}},
		{"wrapped", wrapped, api.CodeLeaseHeld, []api.ErrorCode{api.CodeBusy, api.CodeLeaseHeld}, []api.ErrorCode{api.CodeNotFound}},
		{"nil", nil, "", nil, []api.ErrorCode{api.CodeLeaseHeld, ""}},
		{"not the worker's", errors.New("client: dial tcp: refused"), "", nil, []api.ErrorCode{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := client.ErrorCode(tc.err); got != tc.code {
				t.Errorf("ErrorCode = %q, want %q", got, tc.code)
			}
			if len(tc.is) > 0 && !client.IsCode(tc.err, tc.is...) {
				t.Errorf("IsCode(%v) = false", tc.is)
			}
			if client.IsCode(tc.err, tc.isnt...) {
				t.Errorf("IsCode(%q) = true", tc.isnt)
			}
		})
	}
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Code != api.CodeLeaseHeld {
		t.Fatalf("err = %#v", err)
	}
}
