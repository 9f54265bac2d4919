package truce

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Lock is a pessimistic lock on one document: a lease that ends at
// ExpiresAt without any action from its holder. While it is live, only a
// write that carries its Token may change the document (Precondition's
// LockToken); everyone else gets CodeLocked.
//
// A lock names a document URL, not a document: a document that does not
// exist yet may be locked, so that its holder alone can create it.
type Lock struct {
	Collection string
	ID         string
	// Token proves the right to write the document and to renew or
	// release the lock. It is 128 random bits, so it cannot be guessed.
	Token string
	// Owner says who holds the lock, for people; it proves nothing.
	Owner      string
	AcquiredAt time.Time
	// ExpiresAt is when the lease ends. The lock is gone for every check
	// from that instant on, whether or not its record was removed yet.
	ExpiresAt time.Time
	// Fence is the seq of the commit that acquired the lock. It grows with
	// every acquisition, store-wide, so a system downstream can refuse a
	// request fenced by a lower number than one it has already seen.
	Fence int64
}

// LiveAt reports whether the lock is still held at now.
func (l *Lock) LiveAt(now time.Time) bool { return now.Before(l.ExpiresAt) }

// holds reports whether token is the lock's token, in constant time.
func (l *Lock) holds(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(l.Token)) == 1
}

// maxOwnerLen bounds the owner string of a lock.
const maxOwnerLen = 200

// newLockToken returns 128 random bits in hex.
func newLockToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lockInfo is the Info of a lock event.
type lockInfo struct {
	Owner     string `json:"owner"`
	ExpiresAt string `json:"expiresAt,omitempty"` // in the API's time format
	Fence     int64  `json:"fence,omitempty"`
	Forced    bool   `json:"forced,omitempty"`
}

func (i lockInfo) encode() []byte {
	b, _ := json.Marshal(i)
	return b
}

// lockTime is the service clock as lock records keep it: UTC, to the
// microsecond, which every backend stores exactly.
func (s *Service) lockTime() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}
