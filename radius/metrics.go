package radius

import "github.com/prometheus/client_golang/prometheus"

// Outcomes counted besides the dropped_<reason> ones.
const (
	outcomeAccept     = "accept"
	outcomeReject     = "reject"
	outcomeChallenge  = "challenge"
	outcomeDuplicate  = "duplicate"
	outcomeOverloaded = "dropped_overloaded"
	outcomeError      = "error"
)

// metrics counts requests per client and outcome. A nil *metrics counts nothing.
type metrics struct {
	requests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arbor_radius_requests_total",
		Help: "RADIUS Access-Requests by client (empty: unknown address) and outcome: accept, reject, challenge, duplicate (a retransmission), error, dropped_<reason>.",
	}, []string{"client", "outcome"})}
	reg.MustRegister(m.requests)
	return m
}

func (m *metrics) request(client, outcome string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(client, outcome).Inc()
}
