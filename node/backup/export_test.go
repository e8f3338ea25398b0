package backup

import "bytes"

// VerifyBytes is Verify of a backup held in memory.
func VerifyBytes(b []byte) (Info, error) {
	return scanReader("(memory)", bytes.NewReader(b), int64(len(b)), nil)
}
