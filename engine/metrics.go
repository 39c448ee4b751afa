package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus collectors. A nil *Metrics records nothing.
type Metrics struct {
	steps       *prometheus.CounterVec
	outcomes    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	storeErrors prometheus.Counter
}

// NewMetrics registers the engine's collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_steps_total", Help: "Journey steps served, by journey and result (input, success, failure, error).",
		}, []string{"journey", "result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_node_outcomes_total", Help: "Node outcomes followed, by journey, node type and outcome.",
		}, []string{"journey", "node_type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "arbor_step_duration_seconds", Help: "Time to serve one journey step inside the engine.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"journey"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arbor_store_errors_total", Help: "Store operations that failed because the store was unavailable.",
		}),
	}
	reg.MustRegister(m.steps, m.outcomes, m.latency, m.storeErrors)
	return m
}

func (m *Metrics) step(journey, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.steps.WithLabelValues(journey, result).Inc()
	m.latency.WithLabelValues(journey).Observe(d.Seconds())
}

func (m *Metrics) outcome(journey, nodeType, outcome string) {
	if m == nil {
		return
	}
	m.outcomes.WithLabelValues(journey, nodeType, outcome).Inc()
}

func (m *Metrics) storeError() {
	if m == nil {
		return
	}
	m.storeErrors.Inc()
}

// StoreError counts a store failure seen outside the engine (the doors call it).
func (m *Metrics) StoreError() { m.storeError() }
