package truce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchema compiles a JSON Schema (2020-12 unless it names another
// draft). It never loads anything from outside: a $ref to a file or URL is
// an error.
func compileSchema(src []byte) (*jsonschema.Schema, error) {
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
	return s, nil
}

// maxCachedSchemas bounds a schemaCache; past it, the cache starts over.
// Entries are removed when a collection is dropped through the Service, so
// only names dropped elsewhere (another node, the store directly) linger;
// this keeps even those from adding up.
const maxCachedSchemas = 4096

// schemaCache holds each collection's compiled schema, so that a write is
// checked against a schema compiled when the collection's settings were
// put, or at the first write after, and not once per write. It belongs to
// a Service and holds one entry per collection name: an entry stands for
// the schema text it was compiled from, and a write that finds another
// text (the settings changed, on this node or another) compiles that one
// and replaces the entry. Dropping a collection removes its entry. Safe for
// concurrent use; the compiled schemas themselves are immutable.
type schemaCache struct {
	mu sync.RWMutex
	m  map[string]*compiledSchema // guarded by mu
}

// compiledSchema is a schema and the text it was compiled from.
type compiledSchema struct {
	src    []byte
	schema *jsonschema.Schema
}

// get returns the compiled schema of a collection whose schema text is
// src, compiling it if the cache holds another text or none.
func (c *schemaCache) get(collection string, src []byte) (*jsonschema.Schema, error) {
	c.mu.RLock()
	e := c.m[collection]
	c.mu.RUnlock()
	if e != nil && bytes.Equal(e.src, src) {
		return e.schema, nil
	}
	s, err := compileSchema(src)
	if err != nil {
		return nil, err
	}
	c.put(collection, src, s)
	return s, nil
}

// put records s as the compiled form of the collection's schema text src.
func (c *schemaCache) put(collection string, src []byte, s *jsonschema.Schema) {
	e := &compiledSchema{src: bytes.Clone(src), schema: s}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedSchemas {
		c.m = make(map[string]*compiledSchema)
	}
	c.m[collection] = e
}

// forget drops the entry of a collection that no longer exists.
func (c *schemaCache) forget(collection string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, collection)
}

// len returns the number of entries, for tests.
func (c *schemaCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// storedForm returns src as a Store is likely to give it back: stores keep
// settings as JSON, which drops insignificant white space. Keying the entry
// that PutCollection makes by this form lets the first write find it; if a
// store keeps another form, that write compiles once more, nothing worse.
func storedForm(src []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, src); err != nil {
		return src
	}
	return b.Bytes()
}

// validate checks a document body against the schema of its
// collection and returns CodeSchemaViolation listing every error by JSON
// Pointer.
func (c *schemaCache) validate(collection string, schema []byte, ref string, body []byte) error {
	if len(schema) == 0 {
		return nil
	}
	s, err := c.get(collection, schema)
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
