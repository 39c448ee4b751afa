package door

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"golang.org/x/text/language"

	"github.com/arbor-auth/arbor/nodes"
)

// Client is the request context every door builds once per request.
type Client struct {
	// IP is the client's address: the peer's, or the one a trusted proxy forwarded.
	IP string
	// UserAgent is the client's User-Agent (or what the door knows it as).
	UserAgent string
	// Locales are the client's languages, best first.
	Locales []string
	// Header is the request's headers, for nodes that read them.
	Header http.Header
	// BaseURL is the server's public base URL, without a trailing slash.
	BaseURL string
	// Secure reports whether the client reached the server over https (directly, or as
	// a trusted proxy says, or as the public URL says).
	Secure bool
}

// NodeRequest is the client as nodes see it.
func (cl Client) NodeRequest() nodes.Request {
	return nodes.Request{ClientIP: cl.IP, UserAgent: cl.UserAgent, Locales: cl.Locales, Header: cl.Header, BaseURL: cl.BaseURL}
}

type proxies []netip.Prefix

func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or a network (10.0.0.0/8)", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (p proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Client builds the request context of r. locale, when not empty, goes ahead of the
// browser's languages (a ?locale= parameter).
func (c *Core) Client(r *http.Request, locale string) Client {
	a, proto := c.origin(r)
	cl := Client{IP: addrString(a), UserAgent: r.UserAgent(), Header: r.Header}
	// An absent header has no tags; the parser would allocate to say so (3 allocations
	// per login, go test ./api -bench LoginHandlerParallel -benchmem).
	if al := r.Header.Get("Accept-Language"); al != "" {
		if tags, _, err := language.ParseAcceptLanguage(al); err == nil {
			for _, t := range tags {
				cl.Locales = append(cl.Locales, t.String())
			}
		}
	}
	if locale != "" && (len(cl.Locales) == 0 || cl.Locales[0] != locale) {
		cl.Locales = append([]string{locale}, cl.Locales...)
	}
	cl.Secure = c.secure(r, proto)
	base := strings.TrimSuffix(c.cfg.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil || proto == "https" {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	cl.BaseURL = base
	return cl
}

// ClientIP is the client address of r: the peer's, or, when the peer is a trusted
// proxy, the one it forwarded. Doors use it as echo's IPExtractor, so every log line
// and audit event names the same address.
func (c *Core) ClientIP(r *http.Request) string {
	a, _ := c.origin(r)
	return addrString(a)
}

// Secure reports whether r reached the server over https: directly, as a trusted
// proxy's X-Forwarded-Proto says, or as an https public URL says.
func (c *Core) Secure(r *http.Request) bool {
	_, proto := c.origin(r)
	return c.secure(r, proto)
}

func (c *Core) secure(r *http.Request, proto string) bool {
	return c.cfg.SecureCookies || r.TLS != nil || proto == "https" || strings.HasPrefix(strings.ToLower(c.cfg.PublicURL), "https://")
}

// addrString is a's text, or "" for the zero address (no client address known).
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// origin returns the client address (unmapped; invalid when unknown) and, if a trusted
// proxy said, the protocol the client used. The address is left unformatted: Secure,
// called on every request, needs only the protocol.
func (c *Core) origin(r *http.Request) (ip netip.Addr, proto string) {
	peer := peerAddr(r.RemoteAddr)
	a := peer
	if peer.IsValid() && c.proxies.trusted(peer) {
		a = c.forwardedFor(r.Header.Values("X-Forwarded-For"), peer)
		proto = strings.ToLower(strings.TrimSpace(lastToken(r.Header.Get("X-Forwarded-Proto"))))
	}
	return a.Unmap(), proto
}

// forwardedFor walks X-Forwarded-For from the right: each hop a trusted proxy added is
// skipped, and the first address not a trusted proxy is the client. A malformed entry
// stops the walk at the last address that was known good, so a client cannot smuggle an
// address in front of garbage.
func (c *Core) forwardedFor(values []string, peer netip.Addr) netip.Addr {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = a
		if !c.proxies.trusted(a) {
			return a
		}
	}
	return client
}

func lastToken(s string) string {
	if i := strings.LastIndexByte(s, ','); i >= 0 {
		return s[i+1:]
	}
	return s
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a
}

// PeerIsTrustedProxy reports whether r came through a trusted proxy.
func (c *Core) PeerIsTrustedProxy(r *http.Request) bool {
	a := peerAddr(r.RemoteAddr)
	return a.IsValid() && c.proxies.trusted(a)
}

// ParseLocale returns s if it is a well-formed language tag of at most 35 bytes, else "".
func ParseLocale(s string) string {
	if s == "" || len(s) > 35 {
		return ""
	}
	if _, err := language.Parse(s); err != nil {
		return ""
	}
	return s
}
