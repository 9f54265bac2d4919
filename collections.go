package truce

import (
	"context"
	"errors"
	"maps"
	"slices"
)

// PutCollection creates a collection or replaces its settings. Adding a
// unique field or a reference checks the existing documents and refuses
// (CodeUniqueViolation, CodeInvalidReference) settings they break. A new
// schema applies to later writes only. created reports a new collection.
func (s *Service) PutCollection(ctx context.Context, name string, settings Settings) (info *CollectionInfo, created bool, err error) {
	if err := checkCollectionName(name); err != nil {
		return nil, false, err
	}
	schema, err := settings.validate()
	if err != nil {
		return nil, false, err
	}
	settings.Unique = slices.Clone(settings.Unique)
	settings.References = maps.Clone(settings.References)
	settings.Indexes = slices.Clone(settings.Indexes)
	settings.IndexBuilds = nil
	building := false
	err = s.store.Update(ctx, func(tx Tx) error {
		old, err := getCollection(tx, name)
		if err != nil {
			return err
		}
		created = old == nil
		now := s.now().UTC()
		c := &Collection{Name: name, Settings: settings, CreatedAt: now, UpdatedAt: now}
		var oldSettings *Settings
		if old != nil {
			c.CreatedAt = old.CreatedAt
			if err := reindex(tx, s, name, &old.Settings, &c.Settings); err != nil {
				return err
			}
			oldSettings = &old.Settings
		}
		if building, err = changeIndexes(tx, name, oldSettings, &c.Settings); err != nil {
			return err
		}
		if c.Seq, err = tx.NextSeq(); err != nil {
			return err
		}
		if err := tx.PutCollection(c); err != nil {
			return err
		}
		stats, err := tx.CollectionStats(name)
		if err != nil {
			return err
		}
		info = &CollectionInfo{Collection: *c, Stats: stats}
		return nil
	})
	if err != nil {
		return info, created, err
	}
	if building {
		s.kickIndexBuilder()
	}
	// The writes that follow find the schema compiled; the collection's
	// entry is replaced even when the new settings have no schema.
	if schema != nil {
		s.schemas.put(name, storedForm(settings.Schema), schema)
	} else {
		s.schemas.forget(name)
	}
	return info, created, nil
}

// reindex rebuilds the unique and reference indexes of a collection whose
// settings change from old to new, checking every live document against
// the new rules.
func reindex(tx Tx, s *Service, name string, old, new *Settings) error {
	if slices.Equal(old.sortedUnique(), new.sortedUnique()) && maps.Equal(old.References, new.References) {
		return nil
	}
	// Clear the entries the old settings made, then add the new ones; a
	// field in both ends up where it was.
	oldOnly := &Settings{Unique: old.Unique, References: old.References}
	newOnly := &Settings{Unique: new.Unique, References: new.References}
	if err := eachLive(tx, name, func(d *Document) error {
		if err := maintainUnique(tx, oldOnly, name, d.ID, d.Body, nil); err != nil {
			return err
		}
		return maintainReferences(tx, oldOnly, name, d.ID, d.Body, nil)
	}); err != nil {
		return err
	}
	return eachLive(tx, name, func(d *Document) error {
		ref := refString(name, d.ID)
		if len(new.References) > 0 {
			onlyRefs := &Settings{References: new.References}
			if err := s.checkBody(tx, onlyRefs, ref, name, d.ID, d.Body, nil); err != nil {
				return wrapExisting(err)
			}
		}
		if err := maintainUnique(tx, newOnly, name, d.ID, nil, d.Body); err != nil {
			return wrapExisting(err)
		}
		return maintainReferences(tx, newOnly, name, d.ID, nil, d.Body)
	})
}

func wrapExisting(err error) error {
	var e *Error
	if errors.As(err, &e) {
		e2 := *e
		e2.Detail = "the existing documents break the new settings: " + e.Detail
		return &e2
	}
	return err
}

// eachLive calls fn for every live document of a collection, in id order.
func eachLive(tx ReadTx, collection string, fn func(*Document) error) error {
	after := ""
	for {
		docs, err := tx.Documents(collection, after, 500)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(docs) < 500 {
			return nil
		}
		after = docs[len(docs)-1].ID
	}
}

// CollectionExists reports whether the collection exists, without its
// counts: a read of its settings.
func (s *Service) CollectionExists(ctx context.Context, name string) (bool, error) {
	if checkCollectionName(name) != nil {
		return false, nil
	}
	var ok bool
	err := s.store.View(ctx, func(tx ReadTx) error {
		c, err := getCollection(tx, name)
		ok = c != nil
		return err
	})
	return ok, err
}

// GetCollection returns a collection's settings and counts.
func (s *Service) GetCollection(ctx context.Context, name string) (*CollectionInfo, error) {
	if err := checkCollectionName(name); err != nil {
		return nil, err
	}
	var info *CollectionInfo
	err := s.store.View(ctx, func(tx ReadTx) error {
		c, err := getCollection(tx, name)
		if err != nil {
			return err
		}
		if c == nil {
			return Errorf(CodeNotFound, "collection %s does not exist", name)
		}
		stats, err := tx.CollectionStats(name)
		if err != nil {
			return err
		}
		info = &CollectionInfo{Collection: *c, Stats: stats}
		return nil
	})
	return info, err
}

// ListCollections returns every collection with its counts, by name.
func (s *Service) ListCollections(ctx context.Context) ([]*CollectionInfo, error) {
	var out []*CollectionInfo
	err := s.store.View(ctx, func(tx ReadTx) error {
		out = out[:0]
		cs, err := tx.Collections()
		if err != nil {
			return err
		}
		for _, c := range cs {
			stats, err := tx.CollectionStats(c.Name)
			if err != nil {
				return err
			}
			out = append(out, &CollectionInfo{Collection: *c, Stats: stats})
		}
		return nil
	})
	return out, err
}

// DeleteCollection drops a collection with its documents, history and
// indexes. It refuses (CodeNotEmpty) a collection with live documents
// unless force is set; then every live document gets a document.deleted
// event. Documents elsewhere that reference the dropped ones are left as
// they are.
func (s *Service) DeleteCollection(ctx context.Context, name string, force bool) error {
	if err := checkCollectionName(name); err != nil {
		return err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := getCollection(tx, name)
		if err != nil {
			return err
		}
		if c == nil {
			return Errorf(CodeNotFound, "collection %s does not exist", name)
		}
		stats, err := tx.CollectionStats(name)
		if err != nil {
			return err
		}
		if stats.Documents > 0 && !force {
			return Errorf(CodeNotEmpty, "collection %s holds %d live document(s); delete them first, or delete the collection with force to drop them with it", name, stats.Documents)
		}
		now := s.now().UTC()
		if err := eachLive(tx, name, func(d *Document) error {
			if err := maintainReferences(tx, &c.Settings, name, d.ID, d.Body, nil); err != nil {
				return err
			}
			seq, err := tx.NextSeq()
			if err != nil {
				return err
			}
			return tx.AppendEvent(&Event{Seq: seq, Type: EventDocumentDeleted, Collection: name, ID: d.ID,
				Version: d.Version + 1, ETag: FormatETag(d.Version+1, seq), Time: now})
		}); err != nil {
			return err
		}
		if _, err := tx.NextSeq(); err != nil { // the drop itself is a committed write
			return err
		}
		return tx.DropCollection(name)
	})
	if err == nil {
		s.schemas.forget(name)
	}
	return err
}
