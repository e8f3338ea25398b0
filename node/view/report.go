package view

// ReportRequest is the JSON body of POST /api/v1/verify/report.pdf: a
// verification to report on. Only the digest is verified; content,
// file_name and size are what the caller says the digest is of, printed
// as such. The node (web.DecodeReport) and the Go client share it.
type ReportRequest struct {
	ID        string `json:"id"`
	Algorithm string `json:"algorithm,omitempty"`
	Digest    string `json:"digest"`
	// Content is "file" (hashed by the caller), "text" (its UTF-8 bytes
	// hashed by the caller) or "digest" (typed by a person).
	Content  string `json:"content"`
	FileName string `json:"file_name,omitempty"`
	Size     *int64 `json:"size,omitempty"`
}
