package truce

import "context"

// writerKey is the context key of WithWriter.
type writerKey struct{}

// WithWriter returns a context under which the Service's writes record
// writer as who wrote each version (Document.UpdatedBy) and each
// document event (its updatedBy). A transport names the caller this way
// once per request, as it sets the request's deadline: the name is an
// input of every write path (single writes, batches, transactions,
// conflict resolutions, restores) and changes no rule. Without it, writes
// record no writer.
func WithWriter(ctx context.Context, writer string) context.Context {
	return context.WithValue(ctx, writerKey{}, writer)
}

// writerFrom returns the writer WithWriter put in ctx, or "".
func writerFrom(ctx context.Context) string {
	w, _ := ctx.Value(writerKey{}).(string)
	return w
}
