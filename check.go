package truce

// DocumentEntries are the index entries that a live document implies under
// its collection's settings: exactly what its writes keep in the unique,
// reference, secondary and expiry indexes. A consistency checker compares
// them with what a store holds (see pebble.Store.Check).
type DocumentEntries struct {
	// Unique maps a unique field to the canonical encoding of the value
	// the document holds in it.
	Unique map[string][]byte
	// References are the references the document holds.
	References []Reference
	// Indexes maps the name under which the Store keeps an index (a
	// secondary index of Settings.Indexes, or the expiry index) to the
	// document's key in it.
	Indexes map[string][]byte
	// MayLack names the indexes of Indexes that may lack the document's
	// entry: those still being built, which have not reached it. (A write
	// during the build adds its entry, so one that is there must be right.)
	MayLack map[string]bool
}

// ImpliedEntries returns the index entries of d, a live document of a
// collection with settings s.
func ImpliedEntries(s *Settings, d *Document) (DocumentEntries, error) {
	var e DocumentEntries
	var err error
	if e.Unique, err = uniqueKeys(s, d.Body); err != nil {
		return e, err
	}
	targets, err := referenceTargets(s, d.Body)
	if err != nil {
		return e, err
	}
	for f, id := range targets {
		e.References = append(e.References, Reference{From: DocRef{Collection: d.Collection, ID: d.ID, Field: f},
			To: DocRef{Collection: s.References[f], ID: id}})
	}
	e.Indexes = make(map[string][]byte, len(s.Indexes)+1)
	for _, ix := range s.Indexes {
		e.Indexes[indexName(ix)] = indexKeyOf(ix, d)
		if s.buildingIndex(ix) && !s.built(ix, d.ID) {
			if e.MayLack == nil {
				e.MayLack = map[string]bool{}
			}
			e.MayLack[indexName(ix)] = true
		}
	}
	if t, ok := expiresAt(d.Body); ok {
		e.Indexes[expiryIndex] = expiryKey(t, d.ID)
	}
	return e, nil
}

// built reports whether the build of the index ix has reached id.
func (s *Settings) built(ix []string, id string) bool {
	name := indexName(ix)
	for _, b := range s.IndexBuilds {
		if indexName(b.Index) == name {
			return id <= b.After
		}
	}
	return true
}
