package api

import (
	"net/http"
	"net/url"
	"strings"
)

// query is a request's raw query string, read one parameter at a time. It answers as
// url.Values from url.ParseQuery would (the first value of a name, segments with a
// semicolon or a bad escape skipped), without building the map: url.Values cost 14
// allocations per REST login (start, answer and logout parse theirs; go test ./api
// -run '^$' -bench LoginHandlerParallel -benchmem), and a login reads a handful of
// names. Unescaping allocates only when a name or value has an escape.
type query string

// queryOf is the query of r.
func queryOf(r *http.Request) query { return query(r.URL.RawQuery) }

// maxQueryParams is net/url's default bound on the parameters of a query: beyond it
// url.ParseQuery returns no values at all.
const maxQueryParams = 10000

// Get returns the first value of key, or "".
func (q query) Get(key string) string {
	v, _ := q.lookup(key)
	return v
}

// Has reports whether key is present, with or without a value.
func (q query) Has(key string) bool {
	_, ok := q.lookup(key)
	return ok
}

func (q query) lookup(key string) (string, bool) {
	s := string(q)
	if s == "" {
		return "", false
	}
	if strings.Count(s, "&")+1 > maxQueryParams {
		// Rare, and url.ParseQuery's answer (it also honours GODEBUG
		// urlmaxqueryparams) is the one to keep.
		vs, _ := url.ParseQuery(s)
		v, ok := vs[key]
		if !ok {
			return "", false
		}
		return v[0], true
	}
	for s != "" {
		var seg string
		seg, s, _ = strings.Cut(s, "&")
		if seg == "" || strings.IndexByte(seg, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		k, err := url.QueryUnescape(k)
		if err != nil || k != key {
			continue
		}
		if v, err = url.QueryUnescape(v); err != nil {
			continue
		}
		return v, true
	}
	return "", false
}
