package loadgen

import (
	"strconv"
	"strings"
)

// counterWidth is the fixed width of the counter that Doc bodies carry,
// so that a body is re-stamped in place without changing its size.
const counterWidth = 12

// counterAt is where the counter's digits start in a Doc body.
var counterAt = len(`{"n":"`)

// Doc returns a JSON object of about size bytes (at least its fixed
// fields) with a counter field "n" that Stamp changes in place.
func Doc(size int) []byte {
	head := `{"n":"` + strings.Repeat("0", counterWidth) + `","pad":"`
	tail := `"}`
	pad := max(0, size-len(head)-len(tail))
	var b strings.Builder
	b.Grow(len(head) + pad + len(tail))
	b.WriteString(head)
	for i := range pad {
		b.WriteByte("abcdefghijklmnopqrstuvwxyz"[i%26])
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// Stamp writes n, zero-padded, into the counter of a body made by Doc.
func Stamp(doc []byte, n uint64) {
	digits := strconv.FormatUint(n%1_000_000_000_000, 10)
	field := doc[counterAt : counterAt+counterWidth]
	for i := range field {
		field[i] = '0'
	}
	copy(field[counterWidth-len(digits):], digits)
}
