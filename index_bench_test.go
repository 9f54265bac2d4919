package truce

import (
	"testing"
)

// discardIndexTx is a Tx that only counts the index writes it is given.
type discardIndexTx struct {
	Tx
	puts, deletes int
}

func (t *discardIndexTx) PutIndexEntry(collection, index string, key []byte, id string) error {
	t.puts++
	return nil
}

func (t *discardIndexTx) DeleteIndexEntry(collection, index string, key []byte) error {
	t.deletes++
	return nil
}

// BenchmarkMaintainIndexes measures the Service's own share of an index's
// cost to an update that changes the indexed values (BenchmarkUpdateIndexes
// measures the whole, the store's share included): reading the values of
// both versions and building the keys, with a Tx that discards them.
//
//	go test -run '^$' -bench BenchmarkMaintainIndexes -benchmem .
func BenchmarkMaintainIndexes(b *testing.B) {
	old := &Document{ID: "o001234", Body: []byte(`{"status":"s3","total":2718,"title":"order number 1234","note":"some text to make the document look like one"}`)}
	new := &Document{ID: "o001234", Body: []byte(`{"status":"s7","total":9001,"title":"order number 4321","note":"some text to make the document look like one"}`)}
	for _, c := range []struct {
		name    string
		indexes [][]string
	}{
		{"1", [][]string{{"status", "total"}}},
		{"3", [][]string{{"status", "total"}, {"total"}, {"title"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			settings := &Settings{Indexes: c.indexes}
			tx := &discardIndexTx{}
			for b.Loop() {
				if err := maintainIndexes(tx, settings, "orders", old, new); err != nil {
					b.Fatal(err)
				}
			}
			if tx.puts != tx.deletes || tx.puts == 0 {
				b.Fatalf("%d puts, %d deletes", tx.puts, tx.deletes)
			}
		})
	}
}
