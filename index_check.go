package truce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// checkPageSize is how many documents or entries CheckIndexes reads at a
// time.
const checkPageSize = 1000

// maxCheckProblems bounds how many disagreements CheckIndexes lists.
const maxCheckProblems = 10

// CheckIndexes checks, in one snapshot, that each secondary index of a
// collection holds exactly one entry per live document, under the key of
// the document's current values, and none for anything else. An index
// still being built may lack the entries of the documents its build has
// not reached. It returns CodeNotFound for a missing collection, nil when
// everything agrees, and otherwise an error listing the first
// disagreements. It reads every document and holds one index's entries in
// memory at a time: it is a consistency checker for tests and repairs, as
// bbolt's Tx.Check is, not something to call on a request path.
func (s *Service) CheckIndexes(ctx context.Context, collection string) error {
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < maxCheckProblems {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	err := s.store.View(ctx, func(tx ReadTx) error {
		problems = problems[:0]
		c, err := getCollection(tx, collection)
		if err != nil {
			return err
		}
		if c == nil {
			return Errorf(CodeNotFound, "collection %q does not exist", collection)
		}
		var docs []*Document
		for after := ""; ; {
			page, err := tx.Documents(collection, after, checkPageSize)
			if err != nil {
				return err
			}
			docs = append(docs, page...)
			if len(page) < checkPageSize {
				break
			}
			after = page[len(page)-1].ID
		}
		for _, ix := range c.Settings.Indexes {
			name := indexName(ix)
			building, reached := false, ""
			for _, b := range c.Settings.IndexBuilds {
				if indexName(b.Index) == name {
					building, reached = true, b.After
				}
			}
			want := make(map[string][]byte, len(docs))
			for _, d := range docs {
				want[d.ID] = indexKeyOf(ix, d)
			}
			seen := make(map[string]bool, len(docs))
			var prev []byte
			for from := []byte{}; from != nil; {
				es, err := tx.IndexEntries(collection, name, from, nil, false, checkPageSize)
				if err != nil {
					return err
				}
				from = nil
				if len(es) == checkPageSize {
					from = append(bytes.Clone(es[len(es)-1].Key), 0)
				}
				for _, e := range es {
					key, live := want[e.ID]
					switch {
					case !live:
						report("index %s has an entry for %q, which is not a live document", name, e.ID)
					case seen[e.ID]:
						report("index %s has more than one entry for %q", name, e.ID)
					case !bytes.Equal(e.Key, key):
						report("index %s: the entry of %q does not hold its current values", name, e.ID)
					}
					if prev != nil && bytes.Compare(prev, e.Key) >= 0 {
						report("index %s: entries out of order before %q", name, e.ID)
					}
					seen[e.ID], prev = true, e.Key
				}
			}
			for _, d := range docs {
				if !seen[d.ID] && (!building || d.ID <= reached) {
					report("index %s has no entry for %q", name, d.ID)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New("truce: the indexes of collection " + strconvQuote(collection) + " disagree with its documents: " + strings.Join(problems, "; "))
	}
	return nil
}
