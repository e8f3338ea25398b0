package node

import (
	"errors"
	"strings"
	"testing"
)

func TestCompactMetadata(t *testing.T) {
	for in, want := range map[string]string{
		` {"a" : 1 ,` + "\n\t" + `"b":"x y","c":[1, 2.50,{"d":"\u00e9"}]} `: `{"a":1,"b":"x y","c":[1,2.50,{"d":"\u00e9"}]}`,
		`{}`:   `{}`,
		`null`: ``,
		``:     ``,
	} {
		got, err := CompactMetadata([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`{"a":{"b":1,"b":2}}`, `{"a":[{"b":1,"b":2}]}`, "{\"a\":\"\xff\"}", `{"a":"\ud800"}`, `[1]`, `"x"`, `{"a":1}{}`, `{"a":1`,
		`{"a":"` + strings.Repeat("x", MaxMetadata) + `"}`} {
		if _, err := CompactMetadata([]byte(in)); !errors.Is(err, ErrMetadata) {
			t.Errorf("%.40q: %v", in, err)
		}
	}
}
