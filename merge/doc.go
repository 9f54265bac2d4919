// Package merge owns truce's pure algorithms over JSON values: value equality, the RFC 6902
// diff that history records between versions, and (later) the three-way merge.
//
// Every function takes and returns JSON text, does no I/O and keeps no state, so it is safe
// for concurrent use. Inputs must each be exactly one valid JSON value (surrounding whitespace
// is allowed); anything else is reported with an error that wraps [ErrInvalidJSON].
//
// JSON values are compared as RFC 8259 values, not as text: object member order does not
// matter, strings are compared after unescaping, and numbers are compared exactly by their
// decimal value (1, 1.0, 10e-1 and 1E0 are equal; 12345678901234567890 and
// 12345678901234567891 are not; -0 equals 0). Where an object repeats a member name, the last
// occurrence wins, as in encoding/json.
package merge
