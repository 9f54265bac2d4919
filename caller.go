package truce

import "context"

// Caller is who makes a call, as the transport that took it knows them.
type Caller struct {
	// ID names the caller for good, where Name may be given to another
	// caller later (a token's hash, a client's address). An interactive
	// transaction belongs to the ID that began it: to any other ID it is
	// as if it did not exist. Without one the caller is no one in
	// particular and may use any transaction, as Go embedders do.
	ID string
	// Name is recorded as the writer of every version the call writes
	// (Document.UpdatedBy) and of its change-log event (updatedBy).
	Name string
	// CanRead, when set, says which collections the caller may read. A
	// write whose reference field names a document of a collection it may
	// not read is refused with CodeForbidden: whether the write succeeded
	// would tell whether that document exists.
	CanRead func(collection string) bool
	// CanWrite, when set, says which collections the caller may write. The
	// transport checks it for each request; the Service checks it again
	// where a call applies writes staged earlier (a transaction's commit),
	// since the caller may have lost the scope since.
	CanWrite func(collection string) bool
}

// callerKey is the context key of WithCaller.
type callerKey struct{}

// WithCaller returns a context under which the Service's writes act for
// c. A transport names the caller this way once per request, as it sets
// the request's deadline: the caller is an input of every write path
// (single writes, batches, interactive transactions, conflict
// resolutions, restores) and of every call of an interactive transaction,
// reads included, which belongs to the caller that began it. Without it,
// writes record no writer and check no scopes, and transactions have no
// owner.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerFrom returns the Caller WithCaller put in ctx, or the zero Caller.
func callerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
