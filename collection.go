package truce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ConflictPolicy decides what a write with a stale body version does.
type ConflictPolicy string

// The conflict policies of docs/api.md section 5.
const (
	PolicyReject        ConflictPolicy = "reject"
	PolicyMerge         ConflictPolicy = "merge"
	PolicyManual        ConflictPolicy = "manual"
	PolicyLastWriteWins ConflictPolicy = "last-write-wins"
)

// Settings are a collection's rules. The zero value is the default: reject
// stale versions, no required preconditions, no constraints, no schema,
// unlimited history.
type Settings struct {
	// ConflictPolicy applies to writes whose body version is stale.
	// Empty means PolicyReject.
	ConflictPolicy ConflictPolicy `json:"conflictPolicy"`
	// RequirePreconditions refuses (CodePreconditionRequired) every write
	// but a create that is not conditional: it must name the version or
	// ETag it changes, or be create-only. A put to a new id is refused too.
	RequirePreconditions bool `json:"requirePreconditions"`
	// Unique lists top-level fields whose values must be unique among live
	// documents. Missing and null values are not indexed.
	Unique []string `json:"unique"`
	// References maps a top-level field to the collection whose document ids
	// it holds.
	References map[string]string `json:"references"`
	// Schema is a JSON Schema (2020-12) that every written document body
	// (without reserved fields) must satisfy.
	Schema json.RawMessage `json:"schema,omitempty"`
	// HistoryLimit is the number of versions kept per document; 0 keeps all.
	// The latest version is always kept.
	HistoryLimit int `json:"historyLimit"`
	// Indexes lists the secondary indexes that queries read, each a list
	// of dotted paths (at most MaxIndexes, of at most MaxIndexPaths each).
	// Every write keeps them in its commit.
	Indexes [][]string `json:"indexes,omitempty"`
	// IndexBuilds is the progress of the indexes still being built in the
	// background (BuildIndexes). The Service keeps it: PutCollection
	// ignores what the caller gives, and DecodeSettings refuses it.
	IndexBuilds []IndexBuild `json:"indexBuilds,omitempty"`
}

// Policy returns the effective conflict policy.
func (s *Settings) Policy() ConflictPolicy {
	if s.ConflictPolicy == "" {
		return PolicyReject
	}
	return s.ConflictPolicy
}

// Collection is a named set of documents and its settings.
type Collection struct {
	Name     string
	Settings Settings
	// Seq is the sequence number of the commit that last wrote this record.
	Seq       int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CollectionInfo is a collection with its counts, as reads return it.
type CollectionInfo struct {
	Collection
	Stats CollectionStats
}

// CollectionStats counts a collection's documents.
type CollectionStats struct {
	// Documents is the number of live documents.
	Documents int64 `json:"documents"`
	// Deleted is the number of ids whose latest version is a tombstone.
	Deleted int64 `json:"deleted"`
}

// MarshalJSON renders the collection as the API shows it.
func (c *CollectionInfo) MarshalJSON() ([]byte, error) {
	s := c.Settings
	s.ConflictPolicy = s.Policy()
	if s.Unique == nil {
		s.Unique = []string{}
	}
	if s.References == nil {
		s.References = map[string]string{}
	}
	indexes := s.Indexes
	if indexes == nil {
		indexes = [][]string{}
	}
	building := make([][]string, 0, len(s.IndexBuilds))
	for _, b := range s.IndexBuilds {
		building = append(building, b.Index)
	}
	s.IndexBuilds = nil
	return json.Marshal(struct {
		Name     string `json:"name"`
		Settings struct {
			Settings
			Indexes [][]string `json:"indexes"`
		} `json:"settings"`
		Counts          CollectionStats `json:"counts"`
		Building        bool            `json:"building"`
		BuildingIndexes [][]string      `json:"buildingIndexes"`
		CreatedAt       string          `json:"createdAt"`
		UpdatedAt       string          `json:"updatedAt"`
	}{Name: c.Name, Settings: struct {
		Settings
		Indexes [][]string `json:"indexes"`
	}{s, indexes}, Counts: c.Stats, Building: len(building) > 0, BuildingIndexes: building,
		CreatedAt: string(AppendTime(nil, c.CreatedAt)), UpdatedAt: string(AppendTime(nil, c.UpdatedAt))})
}

// DecodeSettings parses collection settings strictly: unknown fields,
// unknown policies, malformed field names and negative limits are
// CodeInvalidSettings errors, and so is a schema that does not compile.
// An empty body means the default settings.
func DecodeSettings(data []byte) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	if err := checkJSON(data, 64); err != nil {
		return s, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, Errorf(CodeInvalidSettings, "collection settings: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if s.IndexBuilds != nil {
		return s, Errorf(CodeInvalidSettings, "collection settings: indexBuilds is kept by the server; leave it out")
	}
	return s, s.Validate()
}

// Validate checks settings built in Go the way DecodeSettings checks JSON.
func (s *Settings) Validate() error {
	_, err := s.validate()
	return err
}

// validate is Validate, and returns the compiled schema (nil for none) so
// that PutCollection need not compile it again.
func (s *Settings) validate() (*jsonschema.Schema, error) {
	switch s.Policy() {
	case PolicyReject, PolicyLastWriteWins, PolicyMerge, PolicyManual:
	default:
		return nil, Errorf(CodeInvalidSettings, "conflictPolicy %q is unknown; use reject, merge, manual or last-write-wins", s.ConflictPolicy)
	}
	seen := map[string]bool{}
	for _, f := range s.Unique {
		if err := checkSettingsField("unique", f); err != nil {
			return nil, err
		}
		if seen[f] {
			return nil, Errorf(CodeInvalidSettings, "unique lists %q twice", f)
		}
		seen[f] = true
	}
	for f, c := range s.References {
		if err := checkSettingsField("references", f); err != nil {
			return nil, err
		}
		if !ValidCollectionName(c) {
			return nil, Errorf(CodeInvalidSettings, "references.%s names %q, which is not a valid collection name", f, c)
		}
	}
	if err := validateIndexes(s.Indexes); err != nil {
		return nil, err
	}
	if s.HistoryLimit < 0 {
		return nil, Errorf(CodeInvalidSettings, "historyLimit must be 0 (keep all) or positive, not %d", s.HistoryLimit)
	}
	if len(s.Schema) > 0 && !bytes.Equal(bytes.TrimSpace(s.Schema), []byte("null")) {
		return compileSchema(s.Schema)
	}
	s.Schema = nil
	return nil, nil
}

func checkSettingsField(setting, f string) error {
	if f == "" || strings.HasPrefix(f, "_") || len(f) > 255 {
		return Errorf(CodeInvalidSettings, "%s: %q is not a usable field name: give a top-level field that does not start with an underscore", setting, f)
	}
	return nil
}

// sortedUnique returns the unique fields in a stable order.
func (s *Settings) sortedUnique() []string {
	u := slices.Clone(s.Unique)
	slices.Sort(u)
	return u
}

func (s *Settings) String() string { return fmt.Sprintf("%+v", *s) }
