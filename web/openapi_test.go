package web

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v3"
	"gopkg.in/yaml.v3"
)

// TestOpenAPIMatchesRoutes: every API route and method the server serves
// is in docs/openapi.yaml, and the document names no path or method the
// server does not serve (HEAD and OPTIONS, which every route answers,
// and the portal's asset files aside).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	param := regexp.MustCompile(`:([a-zA-Z]+)`)
	served := map[string][]string{}
	for _, r := range (&server{}).routes(func(fiber.Ctx) error { return nil }) {
		p := strings.ReplaceAll(param.ReplaceAllString(r.path, "{$1}"), "{wid}", "{webhookID}")
		p = strings.ReplaceAll(p, "/*", "/{tile}")
		for m := range r.methods {
			served[p] = append(served[p], strings.ToLower(m))
		}
	}
	for _, page := range []string{"/", "/verify", "/how", "/about"} {
		served[page] = []string{"get"}
	}
	for p, methods := range served {
		ops, ok := doc.Paths[p]
		if !ok {
			t.Errorf("%s %v is served but not in docs/openapi.yaml", p, methods)
			continue
		}
		for _, m := range methods {
			if _, ok := ops[m]; !ok {
				t.Errorf("%s %s is served but not documented", strings.ToUpper(m), p)
			}
		}
		for m := range ops {
			if m != "parameters" && m != "summary" && m != "description" && !slices.Contains(methods, m) {
				t.Errorf("docs/openapi.yaml documents %s %s, which the server does not serve", strings.ToUpper(m), p)
			}
		}
	}
	for p := range doc.Paths {
		if _, ok := served[p]; !ok && !strings.HasPrefix(p, "/assets/") {
			t.Errorf("docs/openapi.yaml has %s, which the server does not serve", p)
		}
	}
}
