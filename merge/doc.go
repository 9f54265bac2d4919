// Package merge owns truce's pure algorithms over JSON values:
//
//   - [Merge3], the three-way merge that lets a write made against an old version land on the
//     newest one: each side's changes to base are combined, objects member by member, and
//     every path that both sides changed differently is reported as a [Conflict] with its
//     three values. The merge and manual conflict policies use it for writes based on a stale
//     version, and so does resolving a recorded conflict by merging.
//   - [Diff], the RFC 6902 JSON Patch between two values, which history records between
//     versions.
//   - [Equal], the value equality both of them are built on.
//
// Applying patches is not here: JSON Patch and JSON Merge Patch requests are applied by the
// document service with github.com/evanphx/json-patch/v5, and the patches Diff makes are
// written to apply there.
//
// Every function takes and returns JSON text, does no I/O and keeps no state, so it is safe
// for concurrent use. Inputs must each be exactly one valid JSON value (surrounding whitespace
// is allowed); anything else is reported with an error that wraps [ErrInvalidJSON]. The
// package imports nothing of truce.
//
// JSON values are compared as RFC 8259 values, not as text: object member order does not
// matter, strings are compared after unescaping, and numbers are compared exactly by their
// decimal value (1, 1.0, 10e-1 and 1E0 are equal; 12345678901234567890 and
// 12345678901234567891 are not; -0 equals 0). Where an object repeats a member name, the last
// occurrence wins, as in encoding/json.
//
// The JSON this package writes (Merge3's result, the values in Diff's operations and in a
// Conflict) is compact, with object members sorted by name and strings re-escaped without
// HTML escaping; numbers keep their original text, so large or precise numbers survive. The
// output is deterministic.
package merge
