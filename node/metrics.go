package node

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the service's Prometheus metrics.
type Metrics struct {
	submissions   *prometheus.CounterVec
	records       prometheus.Counter
	submitLatency prometheus.Histogram
	verifications *prometheus.CounterVec
	blocks        prometheus.Counter
	blockRecords  prometheus.Histogram
	blockLatency  prometheus.Histogram
	height        prometheus.Gauge
	queueDepth    prometheus.Gauge
	corruptReads  prometheus.Counter
	corruptBlocks prometheus.Gauge
	documents     *prometheus.CounterVec
	inspections   *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_submissions_total",
			Help: "Submission requests by result (ok, invalid, quota_exceeded, conflict, unavailable, error)."}, []string{"result"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "evidence_records_total",
			Help: "Evidence records committed through this node."}),
		submitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evidence_submit_seconds",
			Help: "Time from a submission's arrival to its receipt.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_verifications_total",
			Help: "Verifications by outcome (pass, mismatch, not_found, proof_invalid)."}, []string{"outcome"}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{Name: "evidence_blocks_total",
			Help: "Blocks written by the embedded ledger."}),
		blockRecords: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evidence_block_records",
			Help: "Records per block.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		blockLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evidence_block_write_seconds",
			Help: "Time to build, sign and sync one block.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		height: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_ledger_height",
			Help: "Number of blocks on the ledger."}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_queue_pending_submissions",
			Help: "Submissions queued in the node and not yet on the ledger (as of the drainer's last pass)."}),
		corruptReads: prometheus.NewCounter(prometheus.CounterOpts{Name: "evidence_ledger_corrupted_total",
			Help: "Times stored ledger data was found not to match its hashes: by the start-up check, or on a read (receipt, block), which is then refused with 500 ledger_corrupted (on Fabric: a block or transaction the peer served that fails the verifier's check). Any is worth an alert."}),
		corruptBlocks: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_ledger_corrupted_blocks",
			Help: "Blocks found corrupted since the node started (at start-up or on a read); run evidencectl fsck with the node stopped."}),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_documents_rendered_total",
			Help: "Certificates and packages rendered (not served from the cache) by kind and result (ok, error, abandoned: the client went away)."}, []string{"kind", "result"}),
		inspections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_pdf_inspections_total",
			Help: "Submitted PDFs inspected, by result (ok, not_inspected: over a bound or failed)."}, []string{"result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_webhook_attempts_total",
			Help: "Webhook delivery attempts by result (delivered, failed)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.submissions, m.records, m.submitLatency, m.verifications, m.blocks, m.blockRecords, m.blockLatency, m.height, m.queueDepth,
			m.corruptReads, m.corruptBlocks, m.documents, m.inspections, m.webhooks)
	}
	return m
}

// ObserveBlock records a committed block (the embedded ledger's OnBlock).
func (m *Metrics) ObserveBlock(number uint64, records int, took time.Duration) {
	m.blocks.Inc()
	m.blockRecords.Observe(float64(records))
	m.blockLatency.Observe(took.Seconds())
	m.height.Set(float64(number + 1))
}

// ObserveCorrupted counts stored data found not to match its hashes (at
// start-up or on a read, which is refused) (the embedded ledger's
// OnCorrupted; the Fabric ledger's, for a block or transaction the peer
// served that fails the verifier's check): first is true the first time
// block (-1: not known) is found corrupted.
func (m *Metrics) ObserveCorrupted(block int64, first bool) {
	m.corruptReads.Inc()
	if first && block >= 0 {
		m.corruptBlocks.Inc()
	}
}

// SetHeight sets the ledger height gauge.
func (m *Metrics) SetHeight(h uint64) { m.height.Set(float64(h)) }

func (m *Metrics) observeSubmit(n int, err error, took time.Duration) {
	result := "ok"
	switch {
	case err == nil:
		m.records.Add(float64(n))
		m.submitLatency.Observe(took.Seconds())
	case errors.Is(err, ErrInvalid):
		result = "invalid"
	case errors.Is(err, ErrQuotaExceeded):
		result = "quota_exceeded"
	case errors.Is(err, ErrConflict), errors.Is(err, ErrIdempotencyMismatch):
		result = "conflict"
	case errors.Is(err, ErrPending):
		result = "pending"
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
		result = "unavailable"
	default:
		result = "error"
	}
	m.submissions.WithLabelValues(result).Inc()
}
