package auth

import (
	"crypto/sha256"
	"encoding/hex"
)

// Set is a loaded auth file, ready to authenticate requests. It is never
// changed once built, so it is safe for concurrent use.
type Set struct {
	byHash map[[sha256.Size]byte]*Principal
}

// NewSet builds the Set of f, which ParseFile or Load checked.
func NewSet(f *File) *Set {
	s := &Set{byHash: make(map[[sha256.Size]byte]*Principal, len(f.Tokens))}
	for _, e := range f.Tokens {
		var h [sha256.Size]byte
		hex.Decode(h[:], []byte(e.SHA256))
		scopes := make([]Scope, len(e.Scopes))
		for i, sc := range e.Scopes {
			scopes[i] = Scope(sc)
		}
		p := &Principal{Name: e.Name, token: true, grants: newGrants(scopes), Burst: e.Burst, hash: e.SHA256}
		if e.Rate != "" {
			p.Limit, _ = ParseRate(e.Rate)
			if p.Burst == 0 {
				p.Burst = BurstFor(p.Limit)
			}
		}
		s.byHash[h] = p
	}
	return s
}

// Len returns the number of tokens in the set.
func (s *Set) Len() int { return len(s.byHash) }

// Authenticate returns the Principal of token, or nil when the set has no
// such token. Only hashes are compared: the lookup is by the SHA-256 of
// token, so how long it takes depends on that hash alone, which a caller
// cannot choose and which tells it nothing about any stored token. (A
// byte-by-byte comparison of the token itself would leak its prefix; a
// comparison of hashes leaks nothing a caller can use.)
func (s *Set) Authenticate(token string) *Principal {
	return s.byHash[sha256.Sum256([]byte(token))]
}

// Current returns the Principal that p's token has in s: p itself or its
// successor after a reload (with the scopes the file gives it now), or nil
// when the token is no longer in s. A Principal that is no token is its
// own current.
func (s *Set) Current(p *Principal) *Principal {
	if !p.token {
		return p
	}
	var h [sha256.Size]byte
	if _, err := hex.Decode(h[:], []byte(p.hash)); err != nil {
		return nil
	}
	return s.byHash[h]
}
