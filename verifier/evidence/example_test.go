package evidence_test

import (
	"errors"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// People copy IDs by hand: case, spaces and hyphens do not matter, and a
// mistyped character is told apart from an unknown ID.
func ExampleParseID() {
	id, err := evidence.ParseID("01m83x7vs-k89v4f2zg-f28cezdz2")
	fmt.Println(id, err)
	_, err = evidence.ParseID("01M83X7VSK89V4F2ZGF28CEZDZ3")
	fmt.Println(errors.Is(err, evidence.ErrIDChecksum))
	// Output:
	// 01M83X7VSK89V4F2ZGF28CEZDZ2 <nil>
	// true
}

func ExampleSum() {
	d := evidence.Sum(evidence.SM3, []byte("abc"))
	fmt.Println(d.Hex())
	fmt.Println(d.Base64())
	// Output:
	// 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0
	// Zsfw9GLu7dnR8tRr3BDk4kFnxIdc8veiKX2gK49LqOA=
}
