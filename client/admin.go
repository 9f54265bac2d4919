package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// BackupManifest describes a complete backup that the server wrote (see
// Client.Backup): the change-log seq it is consistent at, and each file
// with its size and SHA-256.
type BackupManifest struct {
	Format  int          `json:"format"`
	Store   string       `json:"store"`
	Seq     int64        `json:"seq"`
	Created time.Time    `json:"created"`
	Dir     string       `json:"dir"`
	Files   []BackupFile `json:"files"`
	Bytes   int64        `json:"bytes"`
}

// BackupFile is one file of a backup, its path relative to the backup's
// directory.
type BackupFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Backup asks the server for an online, consistent backup of its store
// into dir, an absolute path on the server's own file system to a
// directory that does not exist or is empty, and returns the backup's
// manifest once it is complete. It needs the admin scope. A server over
// PostgreSQL answers CodeBackupUnsupported (back the database up instead,
// or use export); a bad dir is CodeInvalidBackupTarget. It takes
// IdempotencyKey.
func (c *Client) Backup(ctx context.Context, dir string, opts ...CallOption) (*BackupManifest, error) {
	cfg, err := applyOptions("Backup", opts, optIdempotencyKey)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(map[string]string{"to": dir})
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/admin/backup", header: cfg.header, body: b, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	var m BackupManifest
	if err := json.Unmarshal(resp.body, &m); err != nil {
		return nil, fmt.Errorf("client: decoding the backup's manifest: %w", err)
	}
	return &m, nil
}

// Import writes one line of truce export (one version of a document, with
// _collection, _id, _version, _createdAt, _updatedAt, and _deleted for a
// deletion) to the server, keeping its version number, times and author
// (POST /v1/admin/import, admin scope). It returns the stored version and
// whether the server already held it or had imported it for the same
// IdempotencyKey before (unchanged: nothing was written now),
// which makes an interrupted import safe to run again. A document that
// holds that version with other content is CodeImportConflict. It takes
// IdempotencyKey.
func (c *Client) Import(ctx context.Context, line []byte, opts ...CallOption) (doc *Doc, unchanged bool, err error) {
	cfg, err := applyOptions("Import", opts, optIdempotencyKey)
	if err != nil {
		return nil, false, err
	}
	var head struct {
		Collection string `json:"_collection"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return nil, false, fmt.Errorf("client: the import line is not a JSON object: %w", err)
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/admin/import", header: cfg.header, body: line, ctype: "application/json"})
	if err != nil {
		return nil, false, err
	}
	doc, err = docFrom(head.Collection, resp)
	// A replayed answer (the same line sent before with the same key) is
	// one the server already acted on.
	unchanged = resp.header.Get("Truce-Import") == "unchanged" || resp.header.Get("Idempotent-Replayed") == "true"
	return doc, unchanged, err
}
