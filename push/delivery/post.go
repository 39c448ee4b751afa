package delivery

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"
)

// noRedirects returns an HTTP client over tr that never follows redirects: a redirect
// would resend a signed challenge, or a credential, somewhere unconfigured.
func noRedirects(tr http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// vendorPost is one message to a vendor's push API (APNs, FCM): a POST authorised by
// a bearer credential the provider caches and renews.
type vendorPost struct {
	provider string // the provider's name, for errors
	client   *http.Client
	url      string
	// where names the endpoint in errors; unlike url it must hold no device token.
	where     string
	body      []byte
	messageID string
	// credential returns the bearer credential, renewing it when it equals stale (one
	// the vendor just refused); credentialWhat names getting it, for errors.
	credential     func(ctx context.Context, stale string) (string, error)
	credentialWhat string
	// header sets the request's headers with the credential cred.
	header func(h http.Header, cred string)
	// refused reads an error answer: what to report, and whether it refused the
	// credential as stale (then one retry with a new one).
	refused func(resp *http.Response, body []byte) (desc string, staleCredential bool)
}

// send posts the message. A 2xx answer is success. An answer that refuses the
// credential renews it and retries once; a 429 or 5xx answer is retried once after
// Retry-After when that fits in ctx's deadline; any other answer fails.
func (p vendorPost) send(ctx context.Context) error {
	var stale string
	for attempt := 0; ; attempt++ {
		cred, err := p.credential(ctx, stale)
		if err != nil {
			return transmissionError(p.provider, p.credentialWhat, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
		if err != nil {
			return transmissionError(p.provider, "build request", err)
		}
		p.header(req.Header, cred)
		resp, err := p.client.Do(req)
		if err != nil {
			return transmissionError(p.provider, "post message "+p.messageID+" to "+p.where, withoutURL(err))
		}
		if resp.StatusCode/100 == 2 {
			drain(resp.Body)
			return nil
		}
		desc, staleCred := p.refused(resp, readBody(resp.Body))
		what := "message " + p.messageID + " rejected: " + desc
		if attempt > 0 {
			return transmissionError(p.provider, what+" (after one retry)", nil)
		}
		switch {
		case staleCred:
			stale = cred
		case retryable(resp.StatusCode):
			if d := retryAfter(resp, time.Now()); !sleepWithin(ctx, d) {
				return transmissionError(p.provider, fmt.Sprintf("%s (retry after %s does not fit the deadline)", what, d), nil)
			}
		default:
			return transmissionError(p.provider, what, nil)
		}
	}
}
