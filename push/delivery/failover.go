package delivery

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
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

// newFailoverClient returns an HTTP client over tr that never follows redirects: a
// redirect would resend the signed challenge somewhere unconfigured.
func newFailoverClient(tr *http.Transport) *http.Client {
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
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
