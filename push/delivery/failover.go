package delivery

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// failover posts one body to a list of URLs in order until one answers 2xx: the
// webhook and challenge_service providers share it.
type failover struct {
	name      string
	urls      []*url.URL
	timeout   time.Duration // per attempt
	client    *http.Client
	userAgent string
}

// maxTime is the longest a send may take: the per-attempt timeout for every URL.
func (f *failover) maxTime() time.Duration { return f.timeout * time.Duration(len(f.urls)) }

// send posts body (JSON) with header to each URL in turn. Any answer but 2xx, a
// connection error or a timeout moves on to the next URL; when all fail the error lists
// each failure.
func (f *failover) send(ctx context.Context, messageID string, body []byte, header http.Header) error {
	var failures []error
	for i, u := range f.urls {
		if ctx.Err() != nil {
			failures = append(failures, fmt.Errorf("%s and %d more: not tried: %w", redactURL(u), len(f.urls)-i-1, ctx.Err()))
			break
		}
		err := f.post(ctx, u, len(f.urls)-i, body, header)
		if err == nil {
			return nil
		}
		failures = append(failures, err)
	}
	return transmissionError(f.name, fmt.Sprintf("message %s: all %d URLs failed", messageID, len(f.urls)), errorList(failures))
}

// post makes one attempt at u, with left URLs (u included) still to try. When the
// caller's deadline is shorter than the attempts left, what is left is shared fairly,
// so a hung first URL cannot starve the failover.
func (f *failover) post(ctx context.Context, u *url.URL, left int, body []byte, header http.Header) error {
	d := f.timeout
	if dl, ok := ctx.Deadline(); ok {
		if share := time.Until(dl) / time.Duration(left); share < d {
			d = share
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", redactURL(u), err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", f.userAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", redactURL(u), withoutURL(err))
	}
	drain(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: HTTP %d", redactURL(u), resp.StatusCode)
	}
	return nil
}

// parseURLs checks the configured URLs of a failover provider (field names them in
// errors): each absolute, https only when httpsOnly. Problems are added to errs.
func parseURLs(field string, raws []string, httpsOnly bool, errs *errorList) []*url.URL {
	if len(raws) == 0 {
		*errs = append(*errs, fmt.Errorf("%s is empty", field))
	}
	var urls []*url.URL
	for i, raw := range raws {
		u, err := url.Parse(raw)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s[%d]: %w", field, i, err))
			continue
		}
		switch {
		case httpsOnly && (u.Scheme != "https" || u.Host == ""):
			*errs = append(*errs, fmt.Errorf("%s[%d] %q: want an absolute https URL", field, i, redactURL(u)))
		case !httpsOnly && ((u.Scheme != "http" && u.Scheme != "https") || u.Host == ""):
			*errs = append(*errs, fmt.Errorf("%s[%d] %q: want an absolute http or https URL", field, i, redactURL(u)))
		default:
			urls = append(urls, u)
		}
	}
	return urls
}

// parseCommunications normalises the configured communications a provider serves,
// dflt when none is configured. Unknown ones are added to errs.
func parseCommunications(list, dflt []string, errs *errorList) []string {
	if len(list) == 0 {
		return dflt
	}
	var comms []string
	for _, c := range list {
		c = NormalizeCommunication(c)
		if !slices.Contains(communications, c) {
			*errs = append(*errs, fmt.Errorf("unknown communication %q (want one of %s)", c, strings.Join(communications, ", ")))
			continue
		}
		comms = append(comms, c)
	}
	return comms
}
