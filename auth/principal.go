package auth

import "golang.org/x/time/rate"

// Principal is who a request acts for: a token of the auth file, or, on a
// server without one, a client known only by its address, which may do
// everything. Its Name is what a version's _updatedBy records, and what
// rate limits and idempotency keys are kept per.
type Principal struct {
	// Name is the token's name, or the client's address without auth.
	Name string
	// Limit and Burst are the token's own rate limit; a zero Limit means
	// the server's default.
	Limit rate.Limit
	Burst int

	token  bool // from the auth file; else everything is allowed
	grants grants
	// hash is the SHA-256 of the token, hex: what names the token for
	// good, where its name may be given to another token later.
	hash string
}

// Key names p where answers and rate limits are kept per caller: a token
// by its hash (a name may be given to another token later), an address
// by itself, in separate spaces.
func (p *Principal) Key() string {
	if p.token {
		return "token:" + p.hash
	}
	return "addr:" + p.Name
}

// Nobody is the Principal of a request no one admitted: it may do
// nothing.
var Nobody = &Principal{Name: "nobody", token: true}

// Anonymous returns the Principal of a client of a server without an auth
// file: it is known by its address and may do everything.
func Anonymous(addr string) *Principal { return &Principal{Name: addr} }

// Authenticated reports whether p is a token of the auth file.
func (p *Principal) Authenticated() bool { return p.token }

// CanRead reports whether p may read documents, history, conflicts and
// events of collection.
func (p *Principal) CanRead(collection string) bool {
	return !p.token || p.grants.canRead(collection)
}

// CanWrite reports whether p may write documents of collection, and
// resolve or dismiss its conflicts.
func (p *Principal) CanWrite(collection string) bool {
	return !p.token || p.grants.canWrite(collection)
}

// IsAdmin reports whether p holds the admin scope.
func (p *Principal) IsAdmin() bool { return !p.token || p.grants.admin }

// ReadsAll reports whether p may read every collection, so that lists and
// feeds need no filtering.
func (p *Principal) ReadsAll() bool {
	return !p.token || p.grants.admin || p.grants.readAll || p.grants.writeAll
}

// WritesAll reports whether p may write every collection, so that a
// transaction's commit need not check its writes again.
func (p *Principal) WritesAll() bool {
	return !p.token || p.grants.admin || p.grants.writeAll
}
