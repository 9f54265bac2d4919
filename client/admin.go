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
