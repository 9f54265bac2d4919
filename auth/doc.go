// Package auth owns who may do what on a truce server: the auth file of
// bearer tokens (stored only as SHA-256 hashes), the scopes a token grants
// (read:<collection|*>, write:<collection|*>, admin), each token's rate
// limit, and the Keeper that reloads the file while the server runs.
//
// It decides nothing about HTTP: package http asks a Principal whether it
// may read, write or administer, and answers 401, 403 or 429 itself.
package auth
