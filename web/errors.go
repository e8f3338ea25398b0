package web

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Error codes: stable, machine-readable, part of the API contract.
const (
	CodeBadRequest          = "bad_request"
	CodeIDChecksum          = "id_checksum"
	CodeIDInvalid           = "id_invalid"
	CodeUnauthorized        = "unauthorized"
	CodeNotFound            = "not_found"
	CodeTooLarge            = "too_large"
	CodeUnsupportedMedia    = "unsupported_media_type"
	CodeQuotaExceeded       = "quota_exceeded"
	CodeConflict            = "conflict"
	CodeIdempotencyMismatch = "idempotency_mismatch"
	CodeLedgerUnavailable   = "ledger_unavailable"
	CodeLedgerCorrupted     = "ledger_corrupted"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeRateLimited         = "rate_limited"
	CodeInternal            = "internal"
	// CodeCertificatesUnavailable: this node cannot make certificates and
	// packages (no --public-url, no CJK font, no PDF renderer): 503, for
	// the operator to fix.
	CodeCertificatesUnavailable = "certificates_unavailable"
)

// Error is an API error: HTTP status, code, and a message in English and
// Chinese.
type Error struct {
	Status    int
	Code      string
	Message   string
	MessageZH string
	Err       error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Err }

func apiErr(status int, code, msg, zh string) *Error {
	return &Error{Status: status, Code: code, Message: msg, MessageZH: zh}
}

func badRequest(format string, args ...any) *Error {
	m := fmt.Sprintf(format, args...)
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: m, MessageZH: "请求无效：" + m}
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		MessageZH string `json:"message_zh"`
	} `json:"error"`
}

// toAPI maps any error to an API error, in one place.
func toAPI(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case http.StatusNotFound:
			return apiErr(fe.Code, CodeNotFound, "no such endpoint", "接口不存在")
		case http.StatusMethodNotAllowed:
			return apiErr(fe.Code, CodeMethodNotAllowed, "method not allowed", "不支持该请求方法")
		case http.StatusRequestEntityTooLarge:
			return apiErr(fe.Code, CodeTooLarge, "request body too large", "请求内容过大")
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return apiErr(fe.Code, CodeBadRequest, fe.Message, "请求无效："+fe.Message)
		}
	}
	switch {
	case errors.Is(err, evidence.ErrIDChecksum):
		return &Error{Status: http.StatusBadRequest, Code: CodeIDChecksum, Err: err,
			Message:   "the evidence ID's check character does not match: the ID was probably mistyped; please check it against the original",
			MessageZH: "统一证据编号校验位不符，编号可能输入有误，请与原件核对"}
	case errors.Is(err, evidence.ErrIDLength), errors.Is(err, evidence.ErrIDChar):
		return &Error{Status: http.StatusBadRequest, Code: CodeIDInvalid, Err: err,
			Message:   "not a valid evidence ID (" + err.Error() + "); an ID has 27 letters and digits",
			MessageZH: "统一证据编号格式有误（应为 27 位字母和数字），请检查输入"}
	case errors.Is(err, node.ErrNotOriginal):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Err: err, Message: err.Error(),
			MessageZH: "该文件与存证记录不一致，不能作为原件放入电子证据包"}
	case errors.Is(err, node.ErrNoFont):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeCertificatesUnavailable, Err: err,
			Message:   "certificates cannot be made on this node: the CJK font is not installed (operator: apt-get install fonts-wqy-zenhei)",
			MessageZH: "本节点缺少中文字体，暂无法生成存证证书（运维：安装 fonts-wqy-zenhei）"}
	case errors.Is(err, node.ErrNoCertificates):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeCertificatesUnavailable, Err: err, Message: err.Error(), MessageZH: "本节点暂无法生成存证证书"}
	case errors.Is(err, node.ErrCorrupted):
		return &Error{Status: http.StatusInternalServerError, Code: CodeLedgerCorrupted, Err: err,
			Message:   "this node's stored copy of the record or its block is damaged (it does not match the ledger's hashes), so it is not served; the operator has been alerted",
			MessageZH: "本节点存储的该存证记录或其区块已损坏（与账本哈希不符），暂不提供；已提示运维人员处理"}
	case errors.Is(err, node.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Err: err, Message: err.Error(), MessageZH: "未找到"}
	case errors.Is(err, node.ErrInvalid), errors.Is(err, evidence.ErrRecord), errors.Is(err, evidence.ErrAlgorithm), errors.Is(err, evidence.ErrDigestFormat):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Err: err, Message: err.Error(), MessageZH: "请求无效：" + err.Error()}
	case errors.Is(err, node.ErrQuotaExceeded):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeQuotaExceeded, Err: err, Message: err.Error(), MessageZH: "已超出本期存证额度"}
	case errors.Is(err, node.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Err: err, Message: err.Error(), MessageZH: "该编号已有不同的存证记录"}
	case errors.Is(err, node.ErrIdempotencyMismatch):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeIdempotencyMismatch, Err: err,
			Message: "this Idempotency-Key was already used for a different request", MessageZH: "该幂等键已用于另一个请求"}
	case errors.Is(err, node.ErrUnavailable), errors.Is(err, node.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeLedgerUnavailable, Err: err,
			Message: "the ledger cannot commit right now; nothing was recorded, retry later", MessageZH: "账本暂不可用，本次未存证，请稍后重试"}
	case errors.Is(err, platform.ErrUnknownKey):
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Err: err, Message: "unknown API key", MessageZH: "API 密钥无效"}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Err: err, Message: "internal error", MessageZH: "内部错误"}
}

// errorHandler writes every error as ErrorBody; unknown errors are shown
// only as "internal error" (observe logs them in full, with the request's
// ID, which the answer carries in X-Request-ID).
func errorHandler(c fiber.Ctx, err error) error {
	ae := toAPI(err)
	if c.GetRespHeader(fiber.HeaderXRequestID) == "" {
		c.Set(fiber.HeaderXRequestID, newRequestID()) // an error before the middleware ran
	}
	var b ErrorBody
	// Messages may quote input: never more than a few hundred
	// characters of it.
	b.Error.Code, b.Error.Message, b.Error.MessageZH = ae.Code, clip(ae.Message), clip(ae.MessageZH)
	if ae.Status == http.StatusUnauthorized {
		c.Set("WWW-Authenticate", `Bearer realm="evidence-node"`)
	}
	return c.Status(ae.Status).JSON(b)
}

// maxMessage bounds an error message, in characters.
const maxMessage = 400

func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxMessage {
		return s
	}
	return string([]rune(s)[:maxMessage]) + "…"
}
