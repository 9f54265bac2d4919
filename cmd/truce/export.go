package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

// An export is NDJSON: for each collection, one line of its settings,
// {"_collection": "c", "_settings": {...}}, then its documents, one line
// each, as the server renders them with _collection first; with
// --history, every kept version of each live document, oldest first,
// deletions included ({"_deleted": true}).

// exportSettings is the line of a collection's settings.
type exportSettings struct {
	Collection string          `json:"_collection"`
	Settings   client.Settings `json:"_settings"`
}

// exportLine returns a document the server sent as an export line.
func exportLine(collection string, raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '{' {
		return nil, errors.New("the server sent a document that is not a JSON object")
	}
	name, _ := json.Marshal(collection)
	line := append(append([]byte(`{"_collection":`), name...), ',')
	if string(raw) == "{}" {
		return nil, errors.New("the server sent a document without its fields")
	}
	return append(append(line, raw[1:]...), '\n'), nil
}

func newExportCmd(o *clientOptions) *cobra.Command {
	var (
		collections []string
		history     bool
		out         string
	)
	cmd := &cobra.Command{
		Use:   "export [--collection C]... [--history] [--out FILE]",
		Short: "Write a server's documents (and their history) as NDJSON",
		Long: `Write the documents of a server as NDJSON, one line each, through the
public API: for each collection a line of its settings, then each live
document as the server renders it (_id, _version, _createdAt, _updatedAt,
_updatedBy and the fields) with _collection first. With --history, every
version the server keeps of each live document instead, oldest first,
deletions included. 'truce import' loads it into another server, with
either store: the way from Pebble to PostgreSQL.

Documents deleted before the export are not in it, nor are recorded
conflicts, locks or the change feed; a backup (truce backup) keeps all.
The export is read page by page while writes go on: each line is a
version as it was, not a snapshot of the whole server.

Progress goes to stderr on a terminal. With --json, nothing but a JSON
summary: on stdout with --out, else on stderr (stdout is the export).`,
		Example: `  truce export --history --out truce.ndjson
  truce export --collection notes | truce import --server http://new:8080 -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var w io.Writer = cmd.OutOrStdout()
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return usageErrorf("--out: %v", err)
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriterSize(w, 256<<10)
			colls, err := c.ListCollections(ctx)
			if err != nil {
				return requestFailed(cmd, c, err, "", "", 0)
			}
			if len(collections) > 0 {
				var keep []*client.Collection
				for _, name := range collections {
					i := slices.IndexFunc(colls, func(k *client.Collection) bool { return k.Name == name })
					if i < 0 {
						return fmt.Errorf("the server has no collection %q (or the token may not read it)", name)
					}
					keep = append(keep, colls[i])
				}
				colls = keep
			}
			p := newProgress(cmd.ErrOrStderr(), "export", o.json)
			var total int64
			for _, k := range colls {
				total += k.Counts.Documents
			}
			p.total(total, 0)
			start := time.Now()
			var lines, docs, bytesOut int64
			emit := func(line []byte) error {
				lines++
				bytesOut += int64(len(line))
				_, err := bw.Write(line)
				return err
			}
			for _, k := range colls {
				b, err := json.Marshal(exportSettings{Collection: k.Name, Settings: k.Settings})
				if err != nil {
					return err
				}
				if err := emit(append(b, '\n')); err != nil {
					return err
				}
				for d, err := range c.List(ctx, k.Name, client.PageSize(500)) {
					if err != nil {
						return requestFailed(cmd, c, err, k.Name, "", 0)
					}
					n := bytesOut
					if history {
						err = exportHistory(ctx, c, d, emit)
					} else {
						var line []byte
						if line, err = exportLine(k.Name, d.Raw); err == nil {
							err = emit(line)
						}
					}
					if err != nil {
						return requestFailed(cmd, c, err, k.Name, d.ID, 0)
					}
					docs++
					p.add(1, bytesOut-n)
				}
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				if err := f.Sync(); err != nil {
					return err
				}
			}
			p.done()
			if o.json {
				sum, _ := json.Marshal(map[string]any{"collections": len(colls), "documents": docs, "lines": lines, "bytes": bytesOut,
					"history": history, "seconds": time.Since(start).Seconds()})
				dst := cmd.OutOrStdout()
				if f == nil {
					dst = cmd.ErrOrStderr()
				}
				_, err := fmt.Fprintf(dst, "%s\n", sum)
				return err
			}
			if f != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "exported %d documents (%d lines, %s) of %d collections to %s in %s\n",
					docs, lines, formatBytes(bytesOut), len(colls), out, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&collections, "collection", nil, "export only collection `C` (repeat for more; default: every collection the token may read)")
	f.BoolVar(&history, "history", false, "export every kept version of each document, oldest first, not only the current one")
	f.StringVar(&out, "out", "", "write to `FILE` instead of stdout")
	return cmd
}

// exportHistory emits every kept version of d's document, oldest first.
func exportHistory(ctx context.Context, c *client.Client, d *client.Doc, emit func([]byte) error) error {
	var vs []int64
	for v, err := range c.Versions(ctx, d.Collection, d.ID, client.PageSize(500)) {
		if err != nil {
			return err
		}
		vs = append(vs, v.Version)
	}
	slices.Reverse(vs)
	for _, n := range vs {
		raw := d.Raw
		if n != d.Version {
			v, err := c.Version(ctx, d.Collection, d.ID, n)
			if client.Code(err) == client.CodeVersionTrimmed {
				continue // trimmed since the list was read
			}
			if err != nil {
				return err
			}
			raw = v.Raw
		}
		line, err := exportLine(d.Collection, raw)
		if err != nil {
			return err
		}
		if err := emit(line); err != nil {
			return err
		}
	}
	return nil
}

func newImportCmd(o *clientOptions) *cobra.Command {
	var workers int
	cmd := &cobra.Command{
		Use:   "import [FILE|-]",
		Short: "Load an NDJSON export into a server, keeping versions and history",
		Long: `Load what 'truce export' wrote (from FILE, or stdin when it is - or not
given) into a server, which may use either store: collection settings with
PUT /v1/collections/{c}, and each document version with POST
/v1/admin/import (admin scope), which keeps its version number, times
and author. ETags are the new server's own: none names another state.

Each line is sent with an Idempotency-Key made from its content, and the
server writes nothing for a version it already holds: an interrupted
import can be run again and creates no duplicates. A line refused
because it references a document that comes later is retried once the
others are in. A line the server refuses otherwise stops the import,
naming the line; the lines before it stay imported.

Progress goes to stderr on a terminal; --json prints only a JSON summary.`,
		Example: `  truce import --server http://127.0.0.1:8081 truce.ndjson
  truce export --history --server http://old:8080 | truce import --server http://new:8080 -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 || workers > 64 {
				return usageErrorf("--workers must be between 1 and 64, not %d", workers)
			}
			var in io.Reader = cmd.InOrStdin()
			var size int64
			name := "stdin"
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return usageErrorf("%v", err)
				}
				defer f.Close()
				if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
					size = fi.Size()
				}
				in, name = f, args[0]
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			p := newProgress(cmd.ErrOrStderr(), "import", o.json)
			p.total(0, size)
			var nonce [8]byte
			rand.Read(nonce[:])
			im := &importer{c: c, p: p, workers: workers, runID: hex.EncodeToString(nonce[:])}
			start := time.Now()
			err = im.run(cmd.Context(), in)
			p.done()
			if err != nil {
				var e *client.Error
				if errors.As(err, &e) {
					return fmt.Errorf("%s: %w", name, requestFailed(cmd, c, err, "", "", 0))
				}
				return fmt.Errorf("%s: %w", name, err)
			}
			if o.json {
				sum, _ := json.Marshal(map[string]any{"lines": im.lines, "collections": im.collections, "imported": im.imported,
					"unchanged": im.unchanged, "bytes": im.bytes, "seconds": time.Since(start).Seconds()})
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", sum)
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "imported %s: %d versions written, %d already there, %d collections, in %s\n",
				name, im.imported, im.unchanged, im.collections, time.Since(start).Round(time.Millisecond))
			return err
		},
	}
	cmd.Flags().IntVar(&workers, "workers", 4, "send `N` documents at once (each document's versions stay in order)")
	return cmd
}

// importer loads an export into a server.
type importer struct {
	c       *client.Client
	p       *progress
	workers int
	// runID names this run of the import, in the keys of retried lines.
	runID string

	mu sync.Mutex
	// Counts, for the summary; guarded by mu once the workers run.
	lines, collections, imported, unchanged, bytes int64
	// deferred holds, per worker, the lines refused for a reference to a
	// document not yet imported, with their line numbers, in order.
	deferred [][]numbered
}

// numbered is a line of the export with its number.
type numbered struct {
	n    int64
	line []byte
	key  string // the document's collection and id
}

// run reads the export and imports it.
func (im *importer) run(ctx context.Context, in io.Reader) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queues := make([]chan numbered, im.workers)
	im.deferred = make([][]numbered, im.workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan numbered, 64)
		wg.Go(func() {
			blocked := map[string]bool{} // documents with a deferred line
			for l := range queues[i] {
				if ctx.Err() != nil {
					continue
				}
				if blocked[l.key] {
					im.deferred[i] = append(im.deferred[i], l)
					continue
				}
				if err := im.send(ctx, l, 0); client.Code(err) == client.CodeInvalidReference {
					blocked[l.key] = true
					im.deferred[i] = append(im.deferred[i], l)
				} else if err != nil {
					cancel(err)
				}
			}
		})
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var n int64
	var rerr error
	for sc.Scan() && ctx.Err() == nil {
		n++
		raw := bytes.TrimSpace(sc.Bytes())
		im.p.add(0, int64(len(sc.Bytes())+1))
		if len(raw) == 0 {
			continue
		}
		line := bytes.Clone(raw)
		var head struct {
			Collection string           `json:"_collection"`
			ID         string           `json:"_id"`
			Settings   *json.RawMessage `json:"_settings"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			rerr = fmt.Errorf("line %d is not a JSON object of truce export: %v", n, err)
			break
		}
		if head.Settings != nil {
			// A collection's settings come before its documents, which
			// are queued only once they are applied.
			if err := im.settings(ctx, n, head.Collection, *head.Settings); err != nil {
				rerr = err
				break
			}
			continue
		}
		key := head.Collection + "/" + head.ID
		h := fnv.New32a()
		h.Write([]byte(key))
		queues[int(h.Sum32())%im.workers] <- numbered{n: n, line: line, key: key}
	}
	if rerr == nil {
		rerr = sc.Err()
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if rerr != nil {
		return rerr
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	// The deferred lines, in rounds, while a round imports something.
	var rest []numbered
	for _, d := range im.deferred {
		rest = append(rest, d...)
	}
	slices.SortFunc(rest, func(a, b numbered) int { return int(a.n - b.n) })
	for round := 1; len(rest) > 0; round++ {
		var again []numbered
		var lastErr error
		blocked := map[string]bool{}
		for _, l := range rest {
			if blocked[l.key] {
				again = append(again, l)
				continue
			}
			err := im.send(ctx, l, round)
			if client.Code(err) == client.CodeInvalidReference {
				blocked[l.key] = true
				again, lastErr = append(again, l), err
			} else if err != nil {
				return err
			}
		}
		if len(again) == len(rest) {
			return fmt.Errorf("line %d: %w", again[0].n, lastErr)
		}
		rest = again
	}
	return nil
}

// send imports one document line, with an Idempotency-Key made from its
// content: a rerun sends the same key for the same line. A line retried
// once its reference is in (round 1, 2, …) needs another key, since the
// server keeps the refusal as the first key's answer: one made of the
// line, this run and the round. Either way the server writes a version
// it already holds no second time.
func (im *importer) send(ctx context.Context, l numbered, round int) error {
	sum := sha256.Sum256(l.line)
	key := "import-" + hex.EncodeToString(sum[:16])
	if round > 0 {
		key += "-" + im.runID + "-" + strconv.Itoa(round)
	}
	_, unchanged, err := im.c.Import(ctx, l.line, client.IdempotencyKey(key))
	if err != nil {
		if client.Code(err) == client.CodeInvalidReference {
			return err
		}
		return fmt.Errorf("line %d (%s): %w", l.n, l.key, err)
	}
	im.mu.Lock()
	im.lines++
	if unchanged {
		im.unchanged++
	} else {
		im.imported++
	}
	im.mu.Unlock()
	im.p.add(1, 0)
	return nil
}

// settings applies a collection's settings line.
func (im *importer) settings(ctx context.Context, n int64, name string, raw json.RawMessage) error {
	var s client.Settings
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("line %d: the settings of %s: %v", n, name, err)
	}
	if _, err := im.c.PutCollection(ctx, name, s); err != nil {
		return fmt.Errorf("line %d (the settings of %s): %w", n, name, err)
	}
	im.mu.Lock()
	im.lines++
	im.collections++
	im.mu.Unlock()
	return nil
}
