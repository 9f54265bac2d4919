package auth

import (
	"fmt"
	"strings"

	"github.com/trucedb/truce"
)

// Scope is one grant of a token, as the auth file spells it:
// "read:<collection>", "read:*", "write:<collection>", "write:*" or
// "admin". write implies read on the same collections; admin allows
// everything.
type Scope string

// AdminScope allows everything: collection settings, breaking locks,
// every collection's documents, conflicts and events.
const AdminScope Scope = "admin"

// ReadScope and WriteScope return the scope that reads or writes
// collection ("*" for every collection).
func ReadScope(collection string) Scope  { return Scope("read:" + collection) }
func WriteScope(collection string) Scope { return Scope("write:" + collection) }

// ParseScope checks s and returns it as a Scope.
func ParseScope(s string) (Scope, error) {
	if s == string(AdminScope) {
		return AdminScope, nil
	}
	kind, collection, ok := strings.Cut(s, ":")
	if !ok || (kind != "read" && kind != "write") {
		return "", fmt.Errorf("scope %q: want read:<collection>, write:<collection> (or * for every collection), or admin", s)
	}
	if collection != "*" && !truce.ValidCollectionName(collection) {
		return "", fmt.Errorf("scope %q: %q is not a collection name (1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit) nor *", s, collection)
	}
	return Scope(s), nil
}

// grants is what a set of scopes allows, ready to be asked.
type grants struct {
	admin             bool
	readAll, writeAll bool
	read, write       map[string]bool
}

func newGrants(scopes []Scope) grants {
	g := grants{read: map[string]bool{}, write: map[string]bool{}}
	for _, s := range scopes {
		if s == AdminScope {
			g.admin = true
			continue
		}
		kind, c, _ := strings.Cut(string(s), ":")
		switch {
		case kind == "read" && c == "*":
			g.readAll = true
		case kind == "write" && c == "*":
			g.writeAll = true
		case kind == "read":
			g.read[c] = true
		default:
			g.write[c] = true
		}
	}
	return g
}

func (g *grants) canWrite(collection string) bool {
	return g.admin || g.writeAll || g.write[collection]
}

func (g *grants) canRead(collection string) bool {
	return g.canWrite(collection) || g.readAll || g.read[collection]
}
