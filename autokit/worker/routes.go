package worker

import (
	"fmt"
	"net/http"

	"github.com/balena/leviathan-action/autokit/api"
)

// Access is the credential a route needs.
type Access string

// The credentials routes need; see docs/worker-api.md, Authentication.
const (
	// AccessAny: any valid credential, the worker's token or the live
	// lease's id.
	AccessAny Access = "any"
	// AccessLease: the live lease, sent as the bearer or in the
	// Leviathan-Lease header.
	AccessLease Access = "lease"
	// AccessAdmin: the worker's token.
	AccessAdmin Access = "admin"
	// AccessAdminLease: the worker's token and the live lease's id in the
	// Leviathan-Lease header.
	AccessAdminLease Access = "admin+lease"
)

// Route is one endpoint the worker serves.
type Route struct {
	// Method is the HTTP method.
	Method string
	// Path is the path, an http.ServeMux pattern such as
	// /v1/lease/{id} (the api.Path… constants).
	Path string
	// Access is the credential it needs.
	Access Access
}

// String is "METHOD path".
func (r Route) String() string { return r.Method + " " + r.Path }

// routeEntry is a route and the handler that serves it.
type routeEntry struct {
	Route
	handler func(*Worker, http.ResponseWriter, *http.Request) error
}

// bind returns e's handler for w.
func (e routeEntry) bind(w *Worker) handlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) error { return e.handler(w, rw, r) }
}

// routeTable is every endpoint of the API; Handler is built from it and
// docs/worker-api.md is checked against it.
var routeTable = []routeEntry{
	{Route{"GET", api.PathHealth, AccessAny}, (*Worker).getHealth},
	{Route{"GET", api.PathDUT, AccessAny}, (*Worker).getContract},
	{Route{"POST", api.PathLease, AccessAdmin}, (*Worker).postLease},
	{Route{"POST", api.PathHeartbeat, AccessAny}, (*Worker).postHeartbeat},
	{Route{"DELETE", api.PathLeaseID, AccessAdmin}, (*Worker).deleteLease},
	{Route{"POST", api.PathTeardown, AccessAdminLease}, (*Worker).postTeardown},
	{Route{"GET", api.PathSession, AccessLease}, (*Worker).getSession},
	{Route{"GET", api.PathPower, AccessAny}, (*Worker).getPower},
	{Route{"POST", api.PathPowerOn, AccessLease}, (*Worker).postPowerOn},
	{Route{"POST", api.PathPowerOff, AccessLease}, (*Worker).postPowerOff},
	{Route{"PUT", api.PathFlash, AccessLease}, (*Worker).putFlash},
	{Route{"GET", api.PathFlash, AccessAny}, (*Worker).getFlash},
	{Route{"GET", api.PathImage, AccessAny}, (*Worker).getImage},
	{Route{"GET", api.PathSerial, AccessAny}, (*Worker).getSerial},
	{Route{"POST", api.PathSerialWrite, AccessLease}, (*Worker).postSerialWrite},
	{Route{"POST", api.PathSerialExpect, AccessAny}, (*Worker).postExpect},
	{Route{"POST", api.PathExec, AccessLease}, (*Worker).postExec},
	{Route{"POST", api.PathWaitOnline, AccessLease}, (*Worker).postWaitOnline},
	{Route{"GET", api.PathTunnel, AccessLease}, (*Worker).getTunnel},
	{Route{"POST", api.PathListen, AccessLease}, (*Worker).postListen},
	{Route{"GET", api.PathListenID, AccessLease}, (*Worker).getListen},
	{Route{"DELETE", api.PathListenID, AccessLease}, (*Worker).deleteListen},
	{Route{"PUT", api.PathTestrunnerSuite, AccessLease}, (*Worker).putTestrunnerSuite},
	{Route{"POST", api.PathTestrunner, AccessLease}, (*Worker).postTestrunner},
	{Route{"GET", api.PathTestrunnerReports, AccessLease}, (*Worker).getTestrunnerReports},
	{Route{"POST", api.PathTestrunnerPull, AccessAdmin}, (*Worker).postTestrunnerPull},
	{Route{"GET", api.PathAddress, AccessAny}, (*Worker).getAddress},
	{Route{"GET", api.PathScreen, AccessAny}, (*Worker).getScreen},
	{Route{"POST", api.PathKeyboard, AccessLease}, (*Worker).postKeyboard},
}

// Routes lists every endpoint the worker serves, in the order
// docs/worker-api.md's endpoint table lists them.
func Routes() []Route {
	rs := make([]Route, len(routeTable))
	for i, e := range routeTable {
		rs[i] = e.Route
	}
	return rs
}

// guard wraps h with the check access asks for.
func (w *Worker) guard(access Access, h handlerFunc) handlerFunc {
	switch access {
	case AccessAny:
		return h
	case AccessLease:
		return w.leased(h)
	case AccessAdmin:
		return adminOnly(h)
	case AccessAdminLease:
		return adminOnly(w.leased(h))
	}
	panic(fmt.Sprintf("worker: route access %q is not one of the Access constants", access))
}
