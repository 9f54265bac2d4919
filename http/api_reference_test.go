package http_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

// updateAPIReference rewrites the generated parts of docs/api.md:
//
//	go test ./http -run TestAPIReference -update-api-reference
var updateAPIReference = flag.Bool("update-api-reference", false, "rewrite the generated parts of docs/api.md")

const apiReferencePath = "../docs/api.md"

// TestAPIReference keeps docs/api.md in step with the server: its route
// table is made from the OpenAPI document (every route, the token it
// needs, its parameters and headers, every status and problem code it may
// answer) and its code table from the codes, their statuses and their
// problem pages. A route or code added without regenerating the reference
// fails here.
func TestAPIReference(t *testing.T) {
	doc, err := os.ReadFile(apiReferencePath)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := apiReferenceRoutes(t)
	if err != nil {
		t.Fatal(err)
	}
	got := string(doc)
	for _, part := range []struct{ name, text string }{
		{"routes", routes},
		{"codes", apiReferenceCodes()},
	} {
		begin, end := "<!-- generated:"+part.name+" -->\n", "<!-- end:"+part.name+" -->"
		i, j := strings.Index(got, begin), strings.Index(got, end)
		if i < 0 || j < i {
			t.Fatalf("docs/api.md lacks the markers %q and %q", begin, end)
		}
		if cur := got[i+len(begin) : j]; cur != part.text {
			if !*updateAPIReference {
				t.Errorf("docs/api.md's %s table is out of date; run: go test ./http -run TestAPIReference -update-api-reference", part.name)
				continue
			}
			got = got[:i+len(begin)] + part.text + got[j:]
		}
	}
	if *updateAPIReference && got != string(doc) {
		if err := os.WriteFile(apiReferencePath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// apiReferenceRoutes renders the route table from the OpenAPI document.
func apiReferenceRoutes(t *testing.T) (string, error) {
	b, err := trucehttp.OpenAPI()
	if err != nil {
		return "", err
	}
	var spec struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		return "", err
	}
	access := map[string]string{}
	for _, rt := range trucehttp.Routes(mustAuthServer(t, trucehttp.Options{}).handler) {
		access[rt.Pattern] = rt.Access
	}
	type row struct{ path, method, line string }
	var rows []row
	for path, item := range spec.Paths {
		for method, raw := range item {
			var op struct {
				Summary    string `json:"summary"`
				Parameters []struct {
					Ref  string `json:"$ref"`
					Name string `json:"name"`
					In   string `json:"in"`
				} `json:"parameters"`
				Responses map[string]struct {
					Content map[string]struct {
						Schema struct {
							AllOf []struct {
								Properties struct {
									Code struct {
										Enum []string `json:"enum"`
									} `json:"code"`
								} `json:"properties"`
							} `json:"allOf"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			if json.Unmarshal(raw, &op) != nil || op.Responses == nil {
				continue // not an operation (e.g. path-level parameters)
			}
			m := strings.ToUpper(method)
			pattern := m + " " + path
			if strings.HasSuffix(path, "/") {
				pattern += "{$}" // "/" is "/{$}", "/ui/" is "/ui/{$}"
			}
			var query, headers []string
			for _, p := range op.Parameters {
				name, in := p.Name, p.In
				if p.Ref != "" {
					c := spec.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
					name, in = c.Name, c.In
				}
				switch in {
				case "query":
					query = append(query, "`"+name+"`")
				case "header":
					headers = append(headers, "`"+name+"`")
				}
			}
			var statuses []string
			for s := range op.Responses {
				statuses = append(statuses, s)
			}
			slices.SortFunc(statuses, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
			var ok, problems []string
			for _, s := range statuses {
				var codes []string
				for _, c := range op.Responses[s].Content {
					for _, a := range c.Schema.AllOf {
						codes = append(codes, a.Properties.Code.Enum...)
					}
				}
				if len(codes) == 0 {
					ok = append(ok, s)
					continue
				}
				slices.Sort(codes)
				problems = append(problems, s+" `"+strings.Join(codes, "`, `")+"`")
			}
			var takes []string
			if len(query) > 0 {
				takes = append(takes, "query "+strings.Join(query, " "))
			}
			if len(headers) > 0 {
				takes = append(takes, "headers "+strings.Join(headers, " "))
			}
			who := access[pattern]
			if who == "" {
				who = "?"
			}
			line := fmt.Sprintf("| `%s %s` | %s | %s | %s | %s | %s |\n", m, path, who,
				strings.ReplaceAll(op.Summary, "|", `\|`), strings.Join(takes, "; "),
				strings.Join(ok, ", "), strings.Join(problems, "; "))
			rows = append(rows, row{path, m, line})
		}
	}
	order := map[string]int{"GET": 0, "HEAD": 1, "POST": 2, "PUT": 3, "PATCH": 4, "DELETE": 5}
	slices.SortFunc(rows, func(a, b row) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return order[a.method] - order[b.method]
	})
	var out bytes.Buffer
	out.WriteString("| route | token | does | takes | success | problems (status: codes) |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		out.WriteString(r.line)
	}
	return out.String(), nil
}

// apiReferenceCodes renders the table of problem codes.
func apiReferenceCodes() string {
	var out bytes.Buffer
	out.WriteString("| code | status | retryable | title | when, and what the client does |\n|---|---|---|---|---|\n")
	for _, c := range truce.Codes() {
		title, explain := trucehttp.ProblemType(c)
		retry := "no"
		if c.Retryable() {
			retry = "yes"
		}
		fmt.Fprintf(&out, "| `%s` | %d | %s | %s | %s |\n", c, trucehttp.StatusOf(c), retry, title,
			strings.ReplaceAll(explain, "|", `\|`))
	}
	return out.String()
}
