package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// Set is a loaded auth file, ready to authenticate requests. It is never
// changed once built, so it is safe for concurrent use.
type Set struct {
	byHash map[[sha256.Size]byte]stored
	names  []string
}

// stored is one token of a Set: its hash and whom it stands for.
type stored struct {
	hash      [sha256.Size]byte
	principal *Principal
}

// NewSet builds the Set of f, which ParseFile or Load checked.
func NewSet(f *File) *Set {
	s := &Set{byHash: make(map[[sha256.Size]byte]stored, len(f.Tokens))}
	for _, e := range f.Tokens {
		var h [sha256.Size]byte
		hex.Decode(h[:], []byte(e.SHA256))
		scopes := make([]Scope, len(e.Scopes))
		for i, sc := range e.Scopes {
			scopes[i] = Scope(sc)
		}
		p := &Principal{Name: e.Name, token: true, grants: newGrants(scopes), Burst: e.Burst}
		if e.Rate != "" {
			p.Limit, _ = ParseRate(e.Rate)
			if p.Burst == 0 {
				p.Burst = burstFor(p.Limit)
			}
		}
		s.byHash[h] = stored{hash: h, principal: p}
		s.names = append(s.names, e.Name)
	}
	return s
}

// Len returns the number of tokens in the set.
func (s *Set) Len() int { return len(s.names) }

// Authenticate returns the Principal of token, or nil when the set has no
// such token. The lookup is by the SHA-256 of token, and the stored hash
// is compared in constant time: how long it takes depends only on that
// hash, which tells a caller nothing about any stored token.
func (s *Set) Authenticate(token string) *Principal {
	h := sha256.Sum256([]byte(token))
	st, ok := s.byHash[h]
	if !ok || subtle.ConstantTimeCompare(h[:], st.hash[:]) != 1 {
		return nil
	}
	return st.principal
}
