package truce

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaCache holds compiled schemas by their source text, so a schema is
// compiled once per distinct text, not once per write.
var schemaCache sync.Map // string -> *jsonschema.Schema

// compileSchema compiles a JSON Schema (2020-12 unless it names another
// draft). It never loads anything from outside: a $ref to a file or URL is
// an error.
func compileSchema(src []byte) (*jsonschema.Schema, error) {
	if s, ok := schemaCache.Load(string(src)); ok {
		return s.(*jsonschema.Schema), nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return nil, Errorf(CodeInvalidSettings, "schema is not valid JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no file or network access
	const loc = "truce:///schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, Errorf(CodeInvalidSettings, "schema: %v", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, Errorf(CodeInvalidSettings, "schema does not compile: %v", err)
	}
	schemaCache.Store(string(src), s)
	return s, nil
}

// validateSchema checks a document body against the collection's schema
// and returns CodeSchemaViolation listing every error by JSON Pointer.
func validateSchema(schema []byte, ref string, body []byte) error {
	if len(schema) == 0 {
		return nil
	}
	s, err := compileSchema(schema)
	if err != nil {
		return fmt.Errorf("stored schema of %s: %w", ref, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("decoding a checked body: %w", err)
	}
	err = s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var out []Violation
	seen := map[Violation]bool{}
	var walk func(u *jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if u.Error != nil && len(u.Errors) == 0 {
			v := Violation{Pointer: u.InstanceLocation, Message: u.Error.String()}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.BasicOutput())
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	detail := ref + " does not match the collection's schema"
	if len(out) > 0 {
		detail += fmt.Sprintf(": %s %s", pointerOrRoot(out[0].Pointer), out[0].Message)
		if len(out) > 1 {
			detail += fmt.Sprintf(" (and %d more)", len(out)-1)
		}
	}
	return &Error{Code: CodeSchemaViolation, Detail: detail, Violations: out}
}

func pointerOrRoot(p string) string {
	if p == "" {
		return "the document"
	}
	return p
}
