package truce

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// QueryPage is one page of a query's answer.
type QueryPage struct {
	// Items are the matching live documents of the page, in the query's
	// order, whole (Fields projects them when they are rendered).
	Items []*Document
	// Next is the cursor of the next page, "" on the last page.
	Next string
	// AsOf is the seq of the last commit the page's snapshot holds: the
	// change feed from AsOf on carries every change the page does not.
	AsOf int64
	// Index names the index that served the query (its paths), nil when
	// it was read in id order or sorted after a scan.
	Index []string
	// Scanned reports that documents were examined beyond what an index
	// selected (the query asked for scan).
	Scanned bool

	fields []string
}

// plan is how a query reads: an index range, the collection in id order,
// or every document sorted.
type plan struct {
	kind     planKind
	index    []string
	name     string // the index's name, as the cursor records it
	from, to []byte
	reverse  bool
	// exact: what the plan reads is exactly the matching documents, so
	// reading it examines no document that it does not return.
	exact bool
	// order is the sort of a sorted plan.
	order []OrderBy
}

type planKind int

const (
	planIDs planKind = iota
	planIndex
	planSort
)

func (p *plan) id() string {
	switch p.kind {
	case planIndex:
		return p.name
	case planSort:
		return "sort"
	}
	return "ids"
}

// pathTerms are the conditions on one path of a query's top-level
// conjunction.
type pathTerms struct {
	point    bool // an equality (or $exists: false) selects one value
	lo, hi   []byte
	ranged   int // how many conditions the interval holds
	residual int // conditions no interval expresses ($ne $in $nin)
}

func (t *pathTerms) selectable() bool { return t.ranged > 0 }

// Query answers one page of q over the live documents of collection, read
// in one snapshot. It refuses a malformed query (CodeInvalidQuery), one
// that no built index serves (CodeIndexRequired, or CodeIndexBuilding while
// the index that would serve it is being built) unless q.Scan, and a scan
// that would examine more than Options.MaxScanDocs documents for one page
// (CodeScanTooLarge).
func (s *Service) Query(ctx context.Context, collection string, q Query) (*QueryPage, error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, err
	}
	f, err := parseWhere(q.Where)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > MaxPageSize:
		return nil, queryError("/limit", "limit must be between 1 and "+itoa(MaxPageSize))
	}
	if len(q.Fields) > maxQueryFields {
		return nil, queryError("/fields", "fields lists at most "+itoa(maxQueryFields)+" paths")
	}
	for i, p := range q.Fields {
		if msg := checkPath(p); msg != "" {
			return nil, queryError("/fields/"+itoa(int64(i)), msg)
		}
	}
	for i, o := range q.OrderBy {
		if msg := checkPath(o.Field); msg != "" {
			return nil, queryError("/orderBy/"+itoa(int64(i))+"/field", msg)
		}
		if o.Desc != q.OrderBy[0].Desc {
			return nil, queryError("/orderBy/"+itoa(int64(i))+"/desc", "every orderBy path must sort in the same direction")
		}
		if slices.ContainsFunc(q.OrderBy[:i], func(p OrderBy) bool { return p.Field == o.Field }) {
			return nil, queryError("/orderBy/"+itoa(int64(i))+"/field", "orderBy lists "+o.Field+" twice")
		}
	}
	hash := queryHash(&q)
	var cur *cursor
	if q.After != "" {
		if cur, err = parseCursor(q.After, hash); err != nil {
			return nil, err
		}
	}

	if err := s.queryGate.enter(ctx); err != nil {
		return nil, err
	}
	defer s.queryGate.leave()
	page := &QueryPage{fields: q.Fields}
	err = s.store.View(ctx, func(tx ReadTx) error {
		page.Items, page.Next = page.Items[:0], ""
		c, err := getCollection(tx, collection)
		if err != nil {
			return err
		}
		if c == nil {
			return Errorf(CodeNotFound, "collection %s does not exist", collection)
		}
		if page.AsOf, err = tx.LastSeq(); err != nil {
			return err
		}
		p, err := choosePlan(&c.Settings, f, &q)
		if err != nil {
			return err
		}
		if cur != nil && cur.Plan != p.id() {
			return queryError("/after", "the collection's indexes changed since this cursor was made, and the query now reads another way; run it again without after")
		}
		if p.kind == planIndex {
			page.Index = p.index
		}
		page.Scanned = !p.exact
		return s.readPlan(tx, collection, p, f, limit, cur, hash, page)
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// choosePlan picks how to read a query: an index that selects exactly its
// documents; else, when the query allows a scan, the index that selects
// the fewest or the collection in id order or sorted. Among indexes it
// prefers the one that selects with the most conditions.
func choosePlan(settings *Settings, f *filter, q *Query) (*plan, error) {
	terms := map[string]*pathTerms{}
	var paths []string
	for _, c := range f.terms {
		t := terms[c.path]
		if t == nil {
			t = &pathTerms{}
			terms[c.path] = t
			paths = append(paths, c.path)
		}
		lo, hi, ok := c.interval()
		if !ok {
			t.residual++
			continue
		}
		if t.ranged == 0 {
			t.lo, t.hi = lo, hi
		} else {
			if bytes.Compare(lo, t.lo) > 0 {
				t.lo = lo
			}
			if t.hi == nil || (hi != nil && bytes.Compare(hi, t.hi) < 0) {
				t.hi = hi
			}
		}
		t.ranged++
		t.point = t.point || c.isPoint()
	}
	isPoint := func(p string) bool { t := terms[p]; return t != nil && t.point }
	var order []string
	desc := len(q.OrderBy) > 0 && q.OrderBy[0].Desc
	for _, o := range q.OrderBy {
		if !isPoint(o.Field) {
			order = append(order, o.Field)
		}
	}
	if len(order) == 0 {
		desc = false
	}
	nTerms := len(f.terms) + f.other
	if nTerms == 0 && (len(order) == 0 || (slices.Equal(order, []string{FieldID}) && !desc)) {
		return &plan{kind: planIDs, exact: true}, nil
	}

	type candidate struct {
		p        *plan
		consumed int
		building bool
	}
	var best, bestBuilding *candidate
	for _, ix := range settings.Indexes {
		j := 0
		for j < len(ix) && isPoint(ix[j]) {
			j++
		}
		rest := append(slices.Clone(ix[j:]), FieldID)
		if len(order) > len(rest) || !slices.Equal(order, rest[:len(order)]) {
			continue
		}
		consumed := 0
		var prefix []byte
		empty := false
		for _, p := range ix[:j] {
			t := terms[p]
			consumed += t.ranged
			if t.hi != nil && bytes.Compare(t.lo, t.hi) >= 0 {
				empty = true
			}
			prefix = append(prefix, t.lo...)
		}
		from, to := slices.Clone(prefix), successor(prefix)
		if len(prefix) == 0 {
			from, to = nil, nil
		}
		if j < len(ix) {
			if t := terms[ix[j]]; t != nil && t.selectable() {
				consumed += t.ranged
				from = append(slices.Clone(prefix), t.lo...)
				if t.hi != nil {
					to = append(slices.Clone(prefix), t.hi...)
				}
			}
		}
		if empty || (to != nil && bytes.Compare(from, to) >= 0) {
			from, to = []byte{0}, []byte{0}
		}
		if consumed == 0 && len(order) == 0 {
			continue
		}
		exact := consumed == nTerms
		c := &candidate{p: &plan{kind: planIndex, index: ix, name: indexName(ix), from: from, to: to, reverse: desc, exact: exact},
			consumed: consumed, building: settings.buildingIndex(ix)}
		better := func(b *candidate) bool {
			return b == nil || (c.p.exact && !b.p.exact) || (c.p.exact == b.p.exact && c.consumed > b.consumed)
		}
		if c.building {
			if better(bestBuilding) {
				bestBuilding = c
			}
		} else if better(best) {
			best = c
		}
	}
	if best != nil && best.p.exact {
		return best.p, nil
	}
	if bestBuilding != nil && bestBuilding.p.exact && !q.Scan {
		return nil, &Error{Code: CodeIndexBuilding, RetryAfter: time.Second,
			Detail: "the index " + indexName(bestBuilding.p.index) + " that serves this query is still being built; retry in a moment, or send scan: true to examine the documents instead"}
	}
	if !q.Scan {
		return nil, indexRequired(terms, paths, order, f)
	}
	if best != nil {
		return best.p, nil
	}
	if len(order) == 0 || (slices.Equal(order, []string{FieldID}) && !desc) {
		return &plan{kind: planIDs}, nil
	}
	ob := make([]OrderBy, len(order))
	for i, o := range order {
		ob[i] = OrderBy{Field: o, Desc: desc}
	}
	return &plan{kind: planSort, order: ob}, nil
}

// indexRequired is the refusal of a query that no index serves, naming an
// index that would.
func indexRequired(terms map[string]*pathTerms, paths []string, order []string, f *filter) error {
	var eq, rng, residual []string
	for _, p := range paths {
		t := terms[p]
		switch {
		case t.point:
			eq = append(eq, p)
		case t.selectable():
			rng = append(rng, p)
		}
		if t.residual > 0 {
			residual = append(residual, p)
		}
	}
	slices.Sort(eq)
	ix := slices.Clone(eq)
	switch {
	case len(order) > 0:
		for _, o := range order {
			if o != FieldID || len(ix) == 0 {
				ix = append(ix, o)
			}
		}
	case len(rng) > 0:
		ix = append(ix, rng[0])
	}
	detail := "no index of the collection serves this query"
	var why []string
	if len(rng) > 1 || (len(rng) == 1 && len(order) > 0 && order[0] != rng[0]) {
		why = append(why, "an index serves a range on one path only, and only on the path it sorts by")
	}
	if len(residual) > 0 {
		why = append(why, "$ne, $in (of several values) and $nin on "+strings.Join(residual, ", ")+" are never served by an index")
	}
	if f.other > 0 {
		why = append(why, "$or is never served by an index")
	}
	if len(why) == 0 && len(ix) > 0 {
		detail += "; the index " + indexName(ix) + " would: add it to the collection's indexes"
	} else {
		if len(ix) > 0 {
			detail += "; the index " + indexName(ix) + " would serve part of it"
		}
		detail += " (" + strings.Join(why, "; ") + ")"
	}
	return &Error{Code: CodeIndexRequired, Detail: detail + ", or send scan: true to examine the documents"}
}

// readPlan reads one page of a plan into page.
func (s *Service) readPlan(tx ReadTx, collection string, p *plan, f *filter, limit int, cur *cursor, hash string, page *QueryPage) error {
	type hit struct {
		d   *Document
		key []byte
	}
	hits := make([]hit, 0, limit+1)
	examined := 0
	now := s.now() // an expired document reads as deleted (expiry.go)
	tooMany := func() error {
		return Errorf(CodeScanTooLarge, "the query examined more than %d documents for one page; narrow it, or add an index that serves it", s.maxScan)
	}
	switch p.kind {
	case planIndex:
		from, to := p.from, p.to
		if cur != nil {
			if p.reverse {
				to = cur.Key
			} else {
				from = append(slices.Clone(cur.Key), 0)
			}
		}
		batch := limit + 1
		if !p.exact {
			batch = max(batch, 256)
		}
		for len(hits) <= limit {
			if to != nil && bytes.Compare(from, to) >= 0 {
				break
			}
			es, err := tx.IndexEntries(collection, p.name, from, to, p.reverse, batch)
			if err != nil {
				return err
			}
			var pre []*Document
			if p.exact {
				// Every entry of an exact plan up to the page's end is a hit:
				// read their documents in id order, in which the store's
				// point reads move forward (Pebble then seeks from where it
				// is), not in the index's order.
				if pre, err = readInIDOrder(tx, collection, es[:min(len(es), limit+1-len(hits))]); err != nil {
					return err
				}
			}
			for j, e := range es {
				examined++
				if !p.exact && examined > s.maxScan {
					return tooMany()
				}
				var d *Document
				if j < len(pre) {
					d = pre[j]
				} else {
					if d, err = getDocument(tx, collection, e.ID); err != nil {
						return err
					}
				}
				// An exact plan's entries are the matching documents: the
				// same snapshot holds the entry and the version it indexes.
				if d == nil || d.Deleted || d.expired(now) || (!p.exact && !f.all.match(&docView{d: d})) {
					continue
				}
				hits = append(hits, hit{d, e.Key})
				if len(hits) > limit {
					break
				}
			}
			if len(es) < batch {
				break
			}
			last := es[len(es)-1].Key
			if p.reverse {
				to = last
			} else {
				from = append(slices.Clone(last), 0)
			}
		}
	case planIDs:
		after := ""
		if cur != nil {
			after = string(cur.Key)
			if !ValidID(after) {
				return queryError("/after", "the cursor is not one this server gave out")
			}
		}
		batch := limit + 1
		if !p.exact {
			batch = max(batch, 256)
		}
		for len(hits) <= limit {
			docs, err := tx.Documents(collection, after, batch)
			if err != nil {
				return err
			}
			for _, d := range docs {
				examined++
				if !p.exact && examined > s.maxScan {
					return tooMany()
				}
				if !d.expired(now) && f.all.match(&docView{d: d}) {
					hits = append(hits, hit{d, []byte(d.ID)})
					if len(hits) > limit {
						break
					}
				}
			}
			if len(docs) < batch {
				break
			}
			after = docs[len(docs)-1].ID
		}
	case planSort:
		paths := make([]string, len(p.order))
		for i, o := range p.order {
			paths[i] = o.Field
		}
		desc := p.order[0].Desc
		err := eachLive(tx, collection, func(d *Document) error {
			examined++
			if examined > s.maxScan {
				return tooMany()
			}
			v := &docView{d: d}
			if d.expired(now) || !f.all.match(v) {
				return nil
			}
			k := indexKey(paths, v)
			if cur != nil {
				if c := bytes.Compare(k, cur.Key); (!desc && c <= 0) || (desc && c >= 0) {
					return nil
				}
			}
			hits = append(hits, hit{d, k})
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(hits, func(a, b hit) int {
			if desc {
				return bytes.Compare(b.key, a.key)
			}
			return bytes.Compare(a.key, b.key)
		})
	}
	if len(hits) > limit {
		hits = hits[:limit]
		page.Next = (&cursor{Query: hash, Plan: p.id(), Key: hits[limit-1].key}).String()
	}
	page.Items = make([]*Document, len(hits))
	for i, h := range hits {
		page.Items[i] = h.d
	}
	return nil
}

// cursor is where the next page of a query starts: after the key (in the
// plan's order) of the last document of the page. It names the query it
// belongs to by a hash, and the plan, whose keys it holds.
type cursor struct {
	Query string `json:"q"`
	Plan  string `json:"p"`
	Key   []byte `json:"k"`
}

// String renders the cursor as the opaque token clients pass back.
func (c *cursor) String() string {
	b, _ := json.Marshal(c)
	return "q1." + base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s, hash string) (*cursor, error) {
	bad := queryError("/after", "the cursor is not one this server gave out for this query; a cursor continues only the query whose page gave it")
	raw, ok := strings.CutPrefix(s, "q1.")
	if !ok || len(s) > 8192 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Query != hash {
		return nil, bad
	}
	return &c, nil
}

// queryHash identifies a query but for its page: its filter as parsed, its
// order, its fields and whether it may scan.
func queryHash(q *Query) string {
	var where any
	_ = json.Unmarshal(q.Where, &where)
	b, _ := json.Marshal(struct {
		W any       `json:"w"`
		O []OrderBy `json:"o"`
		F []string  `json:"f"`
		S bool      `json:"s"`
	}{where, q.OrderBy, q.Fields, q.Scan})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// readInIDOrder reads the documents the entries name, in id order, and
// returns them in the entries' order (nil for one that does not exist).
func readInIDOrder(tx ReadTx, collection string, es []IndexEntry) ([]*Document, error) {
	order := make([]int, len(es))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(es[a].ID, es[b].ID) })
	docs := make([]*Document, len(es))
	for k, i := range order {
		if k > 0 && es[order[k-1]].ID == es[i].ID {
			docs[i] = docs[order[k-1]]
			continue
		}
		d, err := getDocument(tx, collection, es[i].ID)
		if err != nil {
			return nil, err
		}
		docs[i] = d
	}
	return docs, nil
}
