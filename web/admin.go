package web

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evidence-node/evidence-node/node/backup"
	"github.com/evidence-node/evidence-node/node/logging"
)

// AdminConfig configures the operator's endpoints (evidenced
// --admin-listen). They are served on a listener of their own, never on
// the public one, and every request needs the operator's token.
type AdminConfig struct {
	// Token is the operator's bearer token (DATA/admin-token).
	Token string
	// Backup writes a backup of the node to w: incremental from base, or
	// full if base is nil.
	Backup func(ctx context.Context, w io.Writer, base *backup.Info) (backup.Info, error)
	// Registry receives the backup metrics (nil: not registered).
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// BackupRequest is the body of POST /admin/v1/backup: empty for a full
// backup, or the earlier backup an incremental one continues.
type BackupRequest struct {
	Base *BackupBase `json:"base,omitempty"`
}

// BackupBase names an earlier backup: its ID and manifest (as
// backup.Verify reads them from the file).
type BackupBase struct {
	ID       string          `json:"id"`
	Manifest backup.Manifest `json:"manifest"`
}

type admin struct {
	cfg     AdminConfig
	running sync.Mutex // one backup at a time

	backups  *prometheus.CounterVec
	lastOK   prometheus.Gauge
	lastSize prometheus.Gauge
}

// NewAdmin returns the handler of the operator's endpoints:
//
//	POST /admin/v1/backup   a backup of the node, streamed as it is written (application/x-tar)
func NewAdmin(cfg AdminConfig) http.Handler {
	cfg.Logger = logging.Or(cfg.Logger)
	a := &admin{cfg: cfg,
		backups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_backups_total",
			Help: "Backups streamed through the admin endpoint, by kind (full, incremental) and result (ok, error)."}, []string{"kind", "result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_backup_last_success_timestamp_seconds",
			Help: "When the last backup through the admin endpoint completed (Unix time; 0: none since start)."}),
		lastSize: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_backup_last_bytes",
			Help: "Size of the last backup completed through the admin endpoint, in bytes."}),
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(a.backups, a.lastOK, a.lastSize)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/v1/backup", a.backup)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, apiErr(404, CodeNotFound, "no such admin endpoint: "+r.Method+" "+quote(r.URL.Path), "接口不存在"))
	})
	return a.auth(mux)
}

// auth gives the request an ID and refuses it without the token.
func (a *admin) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		r = r.WithContext(logging.WithRequestID(r.Context(), id))
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || a.cfg.Token == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(a.cfg.Token)) != 1 {
			a.cfg.Logger.WarnContext(r.Context(), "admin: request refused: no or a wrong admin token", "component", "admin", "path", quote(r.URL.Path), "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="evidence-node admin"`)
			adminError(w, apiErr(401, CodeUnauthorized, "the admin endpoints need the operator's token (DATA/admin-token) in Authorization: Bearer", "缺少或错误的运维令牌"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func adminError(w http.ResponseWriter, e *Error) {
	var b ErrorBody
	b.Error.Code, b.Error.Message, b.Error.MessageZH = e.Code, clip(e.Message), clip(e.MessageZH)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(b)
}

// maxBackupRequest bounds the body of a backup request (a manifest lists
// every block file and node file, and chunks of the store's stream).
const maxBackupRequest = 16 << 20

func (a *admin) backup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req BackupRequest
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBackupRequest+1))
	switch {
	case err != nil:
		adminError(w, badRequest("reading the body: %v", err))
		return
	case len(b) > maxBackupRequest:
		adminError(w, apiErr(413, CodeTooLarge, "backup request larger than "+strconv.Itoa(maxBackupRequest)+" bytes", "请求内容过大"))
		return
	case len(strings.TrimSpace(string(b))) > 0:
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			adminError(w, badRequest("the body is not a backup request: %v", err))
			return
		}
	}
	var base *backup.Info
	kind := backup.KindFull
	if req.Base != nil {
		if len(req.Base.ID) != 64 || req.Base.Manifest.Format != backup.Format {
			adminError(w, badRequest("base: want the id and manifest of an earlier backup (format %s)", backup.Format))
			return
		}
		base = &backup.Info{ID: req.Base.ID, Manifest: req.Base.Manifest}
		kind = backup.KindIncremental
	}
	if !a.running.TryLock() {
		adminError(w, apiErr(409, CodeConflict, "a backup is already being written; try again when it ends", "已有备份正在进行，请稍后重试"))
		return
	}
	defer a.running.Unlock()
	start := time.Now()
	// The answer's status is sent with its first bytes: an error before
	// them (a base of another ledger) is still a JSON answer.
	sw := &startWriter{w: w, start: func() {
		w.Header().Set("Content-Type", "application/x-tar")
		w.Header().Set("Content-Disposition", `attachment; filename="evidence-backup-`+start.UTC().Format("20060102T150405Z")+`.tar"`)
		w.WriteHeader(http.StatusOK)
	}}
	bw := bufio.NewWriterSize(sw, 256<<10)
	info, err := a.cfg.Backup(ctx, bw, base)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		a.backups.WithLabelValues(kind, "error").Inc()
		a.cfg.Logger.ErrorContext(ctx, "admin: backup failed", "component", "admin", "kind", kind, "err", err)
		if !sw.started {
			if errors.Is(err, backup.ErrBase) {
				adminError(w, apiErr(409, CodeConflict, err.Error(), "基准备份不属于本节点的账本"))
			} else {
				adminError(w, &Error{Status: 500, Code: CodeInternal, Message: "the backup failed: " + err.Error(), MessageZH: "备份失败"})
			}
		}
		// Once streaming, the archive is cut short: the client's check of
		// the file refuses it.
		return
	}
	a.backups.WithLabelValues(kind, "ok").Inc()
	a.lastOK.Set(float64(time.Now().Unix()))
	a.lastSize.Set(float64(info.Size))
	a.cfg.Logger.InfoContext(ctx, "admin: backup written", "component", "admin", "kind", kind, "id", info.ID, "bytes", info.Size,
		"height", info.Manifest.Head.Height, "took", time.Since(start))
}

// startWriter sends the answer's header before its first byte.
type startWriter struct {
	w       io.Writer
	start   func()
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.start()
	}
	return s.w.Write(p)
}
