package main

// The JSON shapes of the files in docs/vectors (see its README.md). Every
// case has desc and valid; a valid case says what it must decode to
// (want), an invalid one why it must be refused (reason, and for
// receipts and packages the field or check).

// File is one vectors file.
type File[C any] struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	Note    string `json:"note"`
	Cases   []C    `json:"cases"`
}

// IDCase is an evidence ID as a person may type it.
type IDCase struct {
	Desc      string `json:"desc"`
	Input     string `json:"input"`
	Valid     bool   `json:"valid"`
	Canonical string `json:"canonical,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// RecordCase is a Merkle leaf: the bytes of a record.
type RecordCase struct {
	Desc  string      `json:"desc"`
	Input string      `json:"input"`
	Valid bool        `json:"valid"`
	Want  *RecordWant `json:"want,omitempty"`
	// Metadata and Salt (hex), for a record that commits to metadata: the
	// commitment must be the record's metadata member.
	Metadata string `json:"metadata,omitempty"`
	Salt     string `json:"salt,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// RecordWant is what a valid record decodes to.
type RecordWant struct {
	Version  int    `json:"v"`
	ID       string `json:"id"`
	LeafHash string `json:"leaf_hash"` // hex SHA-256(0x00 ‖ input)
}

// HeaderCase is a block header in JSON.
type HeaderCase struct {
	Desc   string      `json:"desc"`
	Input  string      `json:"input"`
	Valid  bool        `json:"valid"`
	Want   *HeaderWant `json:"want,omitempty"`
	Reason string      `json:"reason,omitempty"`
}

// HeaderWant is a header's number, DER encoding and hash (hex).
type HeaderWant struct {
	Number uint64 `json:"number"`
	DER    string `json:"der"`
	Hash   string `json:"hash"`
}

// SealCase is a block seal checked against a header and trust roots.
type SealCase struct {
	Desc       string    `json:"desc"`
	Header     string    `json:"header"`
	Seal       string    `json:"seal"`
	TrustRoots string    `json:"trust_roots"`
	Valid      bool      `json:"valid"`
	Want       *SealWant `json:"want,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// SealWant is the exact text the signature covers.
type SealWant struct {
	Signed string `json:"signed"`
}

// ReceiptCase is a receipt checked against trust roots.
type ReceiptCase struct {
	Desc       string `json:"desc"`
	Receipt    string `json:"receipt"`
	TrustRoots string `json:"trust_roots"`
	Valid      bool   `json:"valid"`
	Error      *Where `json:"error,omitempty"`
}

// Where names what fails and why: a receipt field (Field) or a check of
// the verification (Check), and a reason code.
type Where struct {
	Field  string `json:"field,omitempty"`
	Check  string `json:"check,omitempty"`
	Reason string `json:"reason"`
}

// PackageCase is the set of attachments of an evidence package.
type PackageCase struct {
	Desc    string       `json:"desc"`
	Files   []Attachment `json:"files"`
	Digests []DigestIn   `json:"digests,omitempty"`
	Valid   bool         `json:"valid"`
	Want    PackageWant  `json:"want"`
	Error   *Where       `json:"error,omitempty"`
}

// Attachment is one file: Text when it is UTF-8, else Base64.
type Attachment struct {
	Name   string  `json:"name"`
	Text   *string `json:"text,omitempty"`
	Base64 string  `json:"base64,omitempty"`
}

// DigestIn is a digest of the original the verifier holds.
type DigestIn struct {
	Algorithm string `json:"algorithm"`
	Hex       string `json:"hex"`
}

// PackageWant is the verification's answer.
type PackageWant struct {
	Verdict string       `json:"verdict"`
	Outcome string       `json:"outcome"`
	Checks  []CheckState `json:"checks"`
}

// CheckState is one check's outcome.
type CheckState struct {
	Name    string `json:"name"`
	Pass    bool   `json:"pass"`
	Skipped bool   `json:"skipped,omitempty"`
}
