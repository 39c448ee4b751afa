package app

import (
	"net/http"
	"net/http/pprof"
)

// pprofHandler serves Go's profiler on its own listener (pprof_listen), never on the
// main one: profiles show code paths and timings, so only an operator on the host
// should reach them. Routes are registered here explicitly instead of through
// net/http/pprof's init on http.DefaultServeMux, which Arbor does not serve.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
