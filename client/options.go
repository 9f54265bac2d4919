package client

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CallOption adds a precondition or a setting to one call. Each method
// documents the options it takes; passing one it does not take is an
// error, so that a precondition is never silently ignored.
type CallOption func(*callConfig)

// optionKind names an option, for the check of which options a method
// takes.
type optionKind int

const (
	optIfMatch optionKind = iota
	optIfNoneMatch
	optVersion
	optIdempotencyKey
	optPageSize
	optForce
	optCreateIfMissing
	optConflictRetries
	optHeader
	optUseVersion
	optLockToken
	optLockOwner
	optLockWait
)

var optionNames = [...]string{"IfMatch", "IfNoneMatch", "Version", "IdempotencyKey", "PageSize", "Force",
	"CreateIfMissing", "ConflictRetries", "Header", "UseVersion",
	"LockToken", "LockOwner", "LockWait"}

// callConfig is what a call's options set.
type callConfig struct {
	used            []optionKind
	header          http.Header
	version         int64
	pageSize        int
	force           bool
	createIfMissing bool
	conflictRetries int
	useVersion      bool
	lockOwner       string
	lockWait        time.Duration
	err             error
}

func (c *callConfig) use(k optionKind) {
	if !slices.Contains(c.used, k) {
		c.used = append(c.used, k)
	}
}

func (c *callConfig) setHeader(k optionKind, name, value string) {
	c.use(k)
	if c.header == nil {
		c.header = http.Header{}
	}
	c.header.Set(name, value)
}

// writeOptions are the options every document write takes.
var writeOptions = []optionKind{optIfMatch, optIfNoneMatch, optVersion, optIdempotencyKey, optHeader, optLockToken}

// applyOptions applies opts for the method named method, which takes the
// options allowed, and fails on any other.
func applyOptions(method string, opts []CallOption, allowed ...optionKind) (*callConfig, error) {
	c := &callConfig{}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	for _, k := range c.used {
		if k != optHeader && !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("client: %s does not take the %s option", method, optionNames[k])
		}
	}
	return c, nil
}

// IfMatch makes the call conditional on the document's current ETag being
// etag, as an ETag header or Doc.ETag gave it (or "*": any live document).
// When it is not, the server answers 412 precondition_failed, with the
// current document in Error.Current. An etag without quotes is quoted.
// Get, Put, Patch, Delete and Restore take it.
func IfMatch(etag string) CallOption {
	return func(c *callConfig) { c.setHeader(optIfMatch, "If-Match", quoteETag(etag)) }
}

// IfNoneMatch makes the call conditional on the document's current ETag
// not being etag. IfNoneMatch("*") on Put means create only: 412 when a
// live document exists. On Get, a match is ErrNotModified: the copy you
// hold is current. An etag without quotes is quoted. Get, Put, Patch,
// Delete and Restore take it.
func IfNoneMatch(etag string) CallOption {
	return func(c *callConfig) { c.setHeader(optIfNoneMatch, "If-None-Match", quoteETag(etag)) }
}

// Version makes a write conditional on the document being at version n
// (?version=n). When it is not, the server answers 409 version_conflict,
// or, when the collection's conflict policy says so, merges or applies the
// write (docs/api.md section 5). Put, Patch, Delete and Restore take it.
func Version(n int64) CallOption {
	return func(c *callConfig) {
		c.use(optVersion)
		if n < 1 {
			c.err = fmt.Errorf("client: Version(%d): versions start at 1", n)
		}
		c.version = n
	}
}

// IdempotencyKey sets the write's Idempotency-Key instead of a fresh
// random one. Use it to make a write safe to repeat across processes, for
// example from a job that stores the key with its work. Every write takes
// it.
func IdempotencyKey(key string) CallOption {
	return func(c *callConfig) {
		if key == "" || strings.ContainsAny(key, "\r\n") {
			c.err = fmt.Errorf("client: IdempotencyKey(%q) is not a usable key", key)
		}
		c.setHeader(optIdempotencyKey, "Idempotency-Key", key)
	}
}

// PageSize sets how many items each page of a listing holds (1 to 1000;
// the server's default is 100). The iterator still yields every item.
// List and Versions take it.
func PageSize(n int) CallOption {
	return func(c *callConfig) {
		c.use(optPageSize)
		if n < 1 || n > 1000 {
			c.err = fmt.Errorf("client: PageSize(%d): give 1 to 1000", n)
		}
		c.pageSize = n
	}
}

// Force makes DeleteCollection drop a collection that still holds
// documents, with all of them and their history. Only DeleteCollection
// takes it.
func Force() CallOption {
	return func(c *callConfig) { c.use(optForce); c.force = true }
}

// CreateIfMissing makes Update create the document when it does not
// exist: fn receives a Doc whose Raw is {} and whose Version is 0, and the
// write is a create-only PUT (If-None-Match: *). Only Update takes it.
func CreateIfMissing() CallOption {
	return func(c *callConfig) { c.use(optCreateIfMissing); c.createIfMissing = true }
}

// ConflictRetries sets how many times Update re-applies fn after a
// conflict before it gives up and returns the conflict; the default is
// DefaultConflictRetries. Only Update takes it.
func ConflictRetries(n int) CallOption {
	return func(c *callConfig) {
		c.use(optConflictRetries)
		if n < 0 {
			c.err = fmt.Errorf("client: ConflictRetries(%d) is negative", n)
		}
		c.conflictRetries = n
	}
}

// UseVersion makes Update base its writes on the version it read by
// sending that version in the body (_version) instead of If-Match on the
// ETag. A stale version is then subject to the collection's conflict
// policy (docs/api.md section 5): under merge or manual, a change to other
// fields than a concurrent writer's is merged by the server instead of
// refused, so that Update writes once; a change that cannot be merged
// (409 merge_conflict) or is refused (version_conflict) makes Update
// apply fn again to the current document, as for any conflict. Under
// last-write-wins a stale write overwrites. Only Update takes it.
func UseVersion() CallOption {
	return func(c *callConfig) { c.use(optUseVersion); c.useVersion = true }
}

// Header adds a request header to the call, for headers this package does
// not model. Every method takes it.
func Header(name, value string) CallOption {
	return func(c *callConfig) {
		if strings.ContainsAny(name+value, "\r\n") {
			c.err = fmt.Errorf("client: Header(%q): a line break in a header", name)
		}
		c.use(optHeader)
		if c.header == nil {
			c.header = http.Header{}
		}
		c.header.Add(name, value)
	}
}

// quoteETag quotes an entity tag given without its quotes.
func quoteETag(etag string) string {
	if etag == "*" || strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/"`) {
		return etag
	}
	return strconv.Quote(etag)
}
