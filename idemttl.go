package truce

import "time"

// DefaultIdempotencyTTL is how long a stored answer to an Idempotency-Key
// is kept when Options.IdempotencyTTL is zero.
const DefaultIdempotencyTTL = 24 * time.Hour
