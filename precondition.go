package truce

import (
	"strings"
	"time"
)

// Precondition is what a write says about the version it changes. The
// header forms (IfMatch, IfNoneMatch) fail with CodePreconditionFailed
// (412); the body form (Version) fails with CodeVersionConflict (409), or
// is resolved by the collection's conflict policy.
type Precondition struct {
	// IfMatch holds the entity tags of an If-Match header, quoted as sent,
	// or the single element "*". Empty means no If-Match.
	IfMatch []string
	// IfNoneMatch holds the entity tags of an If-None-Match header, or
	// "*" (create only). Empty means no If-None-Match.
	IfNoneMatch []string
	// Version is the body version (_version or ?version=); 0 means none.
	Version int64
	// IfUnmodifiedSince is the date of an If-Unmodified-Since header
	// (RFC 9110 13.1.4); zero means none. Without If-Match, a live
	// document last modified after it (to the second, as Last-Modified
	// says) fails the write with CodePreconditionFailed. IsZero ignores
	// it: a date cannot tell two writes of one second apart, so it does
	// not satisfy a collection's requirePreconditions.
	IfUnmodifiedSince time.Time `json:",omitzero"`
	// LockToken is the Lock-Token the writer holds on the document, if
	// any. It is not a version precondition (IsZero ignores it): it proves
	// the right to write a locked document.
	LockToken string
}

// IsZero reports whether p carries no precondition at all.
func (p Precondition) IsZero() bool {
	return len(p.IfMatch) == 0 && len(p.IfNoneMatch) == 0 && p.Version == 0
}

// ModifiedSince reports whether a version written at updated fails p's
// If-Unmodified-Since: there is no If-Match, which RFC 9110 evaluates
// instead, and updated, to the second, is after the date.
func (p Precondition) ModifiedSince(updated time.Time) bool {
	return len(p.IfMatch) == 0 && !p.IfUnmodifiedSince.IsZero() && updated.Truncate(time.Second).After(p.IfUnmodifiedSince)
}

// ParseETagList parses the value of an If-Match or If-None-Match header:
// "*" or a comma-separated list of entity tags ("x" or W/"x"). It returns
// CodeInvalidPrecondition for anything else.
func ParseETagList(header string) ([]string, error) {
	h := strings.TrimSpace(header)
	if h == "*" {
		return []string{"*"}, nil
	}
	var tags []string
	for h != "" {
		tag := h
		weak := strings.HasPrefix(tag, "W/")
		if weak {
			tag = tag[2:]
		}
		if len(tag) < 2 || tag[0] != '"' {
			return nil, badETag(header)
		}
		end := strings.IndexByte(tag[1:], '"')
		if end < 0 {
			return nil, badETag(header)
		}
		for _, c := range []byte(tag[1 : end+1]) {
			// etagc = %x21 / %x23-7E / obs-text (RFC 9110 8.8.3)
			if c != 0x21 && (c < 0x23 || c == 0x7f) {
				return nil, badETag(header)
			}
		}
		n := end + 2
		if weak {
			tags = append(tags, "W/"+tag[:n])
		} else {
			tags = append(tags, tag[:n])
		}
		h = strings.TrimLeft(tag[n:], " \t")
		if h == "" {
			break
		}
		if h[0] != ',' {
			return nil, badETag(header)
		}
		h = strings.TrimLeft(h[1:], " \t")
		if h == "" {
			return nil, badETag(header)
		}
	}
	if len(tags) == 0 {
		return nil, badETag(header)
	}
	if len(tags) > 64 {
		return nil, Errorf(CodeInvalidPrecondition, "the list names %d entity tags; at most 64 are accepted", len(tags))
	}
	return tags, nil
}

func badETag(h string) error {
	return Errorf(CodeInvalidPrecondition, "%.100q is not \"*\" or a list of quoted entity tags such as \"3-1k\"", h)
}

// MatchStrong reports whether etag strong-matches one of tags (If-Match,
// RFC 9110 13.1.1): weak tags never match.
func MatchStrong(tags []string, etag string) bool {
	for _, t := range tags {
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// MatchWeak reports whether etag weak-matches one of tags (If-None-Match,
// RFC 9110 13.1.2).
func MatchWeak(tags []string, etag string) bool {
	for _, t := range tags {
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// check evaluates p against cur, the document's current version (nil or a
// tombstone when there is no live document), for a write to collection/id.
// It returns errStale (a body version mismatch, for the conflict policy
// to decide) or an *Error.
func (p Precondition) check(cur *Document, ref string) error {
	live := cur != nil && !cur.Deleted
	if len(p.IfMatch) > 0 {
		if !live {
			return &Error{Code: CodePreconditionFailed, Detail: "the write is conditional on an ETag of " + ref + ", which does not exist"}
		}
		if !MatchStrong(p.IfMatch, cur.ETag()) {
			return &Error{Code: CodePreconditionFailed, Current: cur,
				Detail: ref + " is at " + cur.ETag() + " (version " + itoa(cur.Version) + "), not an ETag the write is conditional on; re-read it and write with its new ETag"}
		}
	}
	if live && p.ModifiedSince(cur.UpdatedAt) {
		return &Error{Code: CodePreconditionFailed, Current: cur,
			Detail: ref + " was last modified at " + cur.UpdatedAt.UTC().Format(time.RFC3339) + " (version " + itoa(cur.Version) + "), after the If-Unmodified-Since date; re-read it and write with its new ETag"}
	}
	if len(p.IfNoneMatch) > 0 && live && MatchWeak(p.IfNoneMatch, cur.ETag()) {
		d := ref + " is at " + cur.ETag() + ", one of the ETags the write excludes"
		if p.IfNoneMatch[0] == "*" {
			d = "the write is create-only, and " + ref + " already exists at version " + itoa(cur.Version)
		}
		return &Error{Code: CodePreconditionFailed, Current: cur, Detail: d}
	}
	if p.Version != 0 {
		if !live {
			return Errorf(CodeNotFound, "%s does not exist, so it cannot be at version %d", ref, p.Version)
		}
		if cur.Version != p.Version {
			return errStale
		}
	}
	return nil
}
