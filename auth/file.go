package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// File is the auth file: every token the server accepts, each stored as
// the SHA-256 of the token, never the token itself.
//
//	{"tokens": [{"name": "ci", "sha256": "<64 hex>", "scopes": ["read:*", "write:orders"], "rate": "50/s"}]}
type File struct {
	Tokens []Entry `json:"tokens"`
}

// Entry is one token of the auth file.
type Entry struct {
	// Name names the token in _updatedBy, logs and `truce token revoke`:
	// 1 to 64 of A-Z a-z 0-9 . _ : @ -.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the token (HashToken).
	SHA256 string `json:"sha256"`
	// Scopes lists what the token may do (ParseScope).
	Scopes []string `json:"scopes"`
	// Rate is the token's own rate limit, such as "50/s", "600/m" or
	// "1000/h"; empty means the server's --rate-limit.
	Rate string `json:"rate,omitempty"`
	// Burst is how many requests the token may make at once; 0 means twice
	// its rate per second (at least 1).
	Burst int `json:"burst,omitempty"`
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,64}$`)

// ParseFile reads an auth file and checks every entry: unknown fields,
// malformed hashes, scopes or rates, and duplicate names or hashes are
// errors that name the entry.
func ParseFile(data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("the auth file is not {\"tokens\":[{\"name\",\"sha256\",\"scopes\",\"rate\"}]}: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the auth file has more than one JSON value")
	}
	names, hashes := map[string]bool{}, map[string]bool{}
	for i := range f.Tokens {
		e := &f.Tokens[i]
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		e.SHA256 = strings.ToLower(e.SHA256)
		if names[e.Name] {
			return nil, fmt.Errorf("token %d: the name %q is used twice", i, e.Name)
		}
		if hashes[e.SHA256] {
			return nil, fmt.Errorf("token %d (%s): the same token hash is listed twice", i, e.Name)
		}
		names[e.Name], hashes[e.SHA256] = true, true
	}
	return &f, nil
}

func (e *Entry) check() error {
	if !namePattern.MatchString(e.Name) {
		return fmt.Errorf("name %q: want 1 to 64 of A-Z a-z 0-9 . _ : @ -", e.Name)
	}
	if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%s: sha256 must be 64 hex digits, the SHA-256 of the token", e.Name)
	}
	if len(e.Scopes) == 0 {
		return fmt.Errorf("%s: no scopes; give read:<collection>, write:<collection> or admin", e.Name)
	}
	for _, s := range e.Scopes {
		if _, err := ParseScope(s); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	if e.Rate != "" {
		if _, err := ParseRate(e.Rate); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	if e.Burst < 0 || (e.Burst > 0 && e.Rate == "") {
		return fmt.Errorf("%s: burst must be positive, and goes with a rate", e.Name)
	}
	return nil
}

// Load reads and checks the auth file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// LoadOrEmpty is Load, but a file that does not exist is an empty File,
// for the first `truce token create`.
func LoadOrEmpty(path string) (*File, error) {
	f, err := Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return &File{Tokens: []Entry{}}, nil
	}
	return f, err
}

// Add appends e, refusing a malformed entry or a name already used.
func (f *File) Add(e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	for _, old := range f.Tokens {
		if old.Name == e.Name {
			return fmt.Errorf("a token named %q exists already; revoke it first or choose another name", e.Name)
		}
	}
	f.Tokens = append(f.Tokens, e)
	return nil
}

// Remove deletes the token named name; it is an error if there is none.
func (f *File) Remove(name string) error {
	for i, e := range f.Tokens {
		if e.Name == name {
			f.Tokens = append(f.Tokens[:i], f.Tokens[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("no token is named %q", name)
}

// Save writes f to path atomically: a temporary file in the same
// directory, synced, then renamed over path, and the directory synced, so
// that a crash leaves the old file or the new one, never a torn one. The
// file is readable by its owner only.
func (f *File) Save(path string) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tokenPrefix starts every token, so that a secret scanner can find one
// pasted where it should not be.
const tokenPrefix = "truce_"

// NewToken returns a fresh random token: 256 bits from crypto/rand.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails; see crypto/rand.Read
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the hex SHA-256 of token, as the auth file keeps it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ParseRate reads a rate such as "50/s", "600/m" or "1000/h".
func ParseRate(s string) (rate.Limit, error) {
	n, unit, ok := strings.Cut(s, "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	v, err := strconv.ParseFloat(n, 64)
	if !ok || per == 0 || err != nil || !(v > 0 && v <= 1e9) { // NaN fails too
		return 0, fmt.Errorf("rate %q: want a positive number of requests per s, m or h, such as 50/s", s)
	}
	return rate.Limit(v / per.Seconds()), nil
}

// BurstFor is the burst of a rate that names none: two seconds' worth, at
// least 1.
func BurstFor(l rate.Limit) int {
	return max(1, int(min(2*float64(l), 1e9)))
}
