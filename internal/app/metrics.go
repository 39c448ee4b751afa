package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbor-auth/arbor/audit"
)

// countAuditEvents makes every audit event also a metric:
// arbor_audit_events_total{type="push.approved"}, so dashboards and alerts see logins,
// pushes (sent, approved, denied, expired, mismatched, rejected, rate limited),
// registrations and recovery codes without parsing logs.
func countAuditEvents(a *App) error {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arbor_audit_events_total",
		Help: "Audit events by type (login.success, push.approved, session.refused, ...).",
	}, []string{"type"})
	if err := a.Metrics.Register(events); err != nil {
		return err
	}
	for _, t := range []string{audit.LoginSuccess, audit.LoginFailure, audit.PushSent, audit.PushApproved, audit.PushDenied,
		audit.PushExpired, audit.PushMismatch, audit.PushRejected, audit.PushRateLimited, audit.PushFailed} {
		events.WithLabelValues(t) // present at zero, so rates and alerts work from the start
	}
	a.Audit.AddSink(func(e audit.Event) { events.WithLabelValues(e.Type).Inc() })
	return nil
}
