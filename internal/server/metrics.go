package server

import (
	"regexp"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are tenantd's Prometheus metrics, on a registry of their own.
type Metrics struct {
	Registry        *prometheus.Registry
	RequestDuration *prometheus.HistogramVec
	Transitions     *prometheus.CounterVec
	Errors          *prometheus.CounterVec

	mu    sync.Mutex
	names map[string]bool
}

// maxOperationNames bounds the label values clients can create by naming
// their operations; later names are counted as "other".
const maxOperationNames = 200

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// NewMetrics registers tenantd's metrics and the Go runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantd_graphql_request_duration_seconds",
			Help:    "GraphQL request duration by operation name (or root field when unnamed).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantd_lifecycle_transitions_total",
			Help: "Committed tenant lifecycle transitions by event.",
		}, []string{"event"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantd_graphql_errors_total",
			Help: "GraphQL errors sent to clients by extensions.code.",
		}, []string{"code"}),
		names: map[string]bool{},
	}
	m.Registry.MustRegister(m.RequestDuration, m.Transitions, m.Errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// operationLabel returns the label for an operation name.
func (m *Metrics) operationLabel(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !validName.MatchString(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[name] {
		return name
	}
	if len(m.names) >= maxOperationNames {
		return "other"
	}
	m.names[name] = true
	return name
}
