package loadgen

import (
	"fmt"
	"slices"
)

// Spec describes a workload by name.
type Spec struct {
	// Name is what --workload takes.
	Name string
	// Summary says in one line what its clients do.
	Summary string
	// Generic workloads run against any Store; the others need truce.
	Generic bool
	// New builds the workload on s. A workload that needs truce fails
	// when s is another Store.
	New func(s Store) (Workload, error)
}

// generic wraps a generic workload's constructor.
func generic(f func(Store) Workload) func(Store) (Workload, error) {
	return func(s Store) (Workload, error) { return f(s), nil }
}

// truceOnly wraps the constructor of a workload that needs truce.
func truceOnly(name string, f func(*Truce) Workload) func(Store) (Workload, error) {
	return func(s Store) (Workload, error) {
		t, ok := s.(*Truce)
		if !ok {
			return nil, fmt.Errorf("workload %s needs a truce server", name)
		}
		return f(t), nil
	}
}

// Specs lists every workload, the available ones first.
func Specs() []Spec {
	return []Spec{
		{Name: "read", Generic: true, New: generic(Read),
			Summary: "GET a random one of --docs documents"},
		{Name: "update", Generic: true, New: generic(Update),
			Summary: "GET a random one of --docs documents, PUT it with If-Match; on 412 start over"},
		{Name: "update-tuned", New: truceOnly("update-tuned", UpdateTuned),
			Summary: "update as a tuned client does it: PUT with If-Match on the ETag last seen (no GET), on 412 again with the problem's current ETag"},
		{Name: "update-hot", Generic: true, New: generic(UpdateHot),
			Summary: "every client: GET one hot document, PUT it with If-Match; on 412 start over"},
		{Name: "merge-hot", New: truceOnly("merge-hot", MergeHot),
			Summary: "one hot document under the merge policy; each client PUTs its own field with a stale _version"},
		{Name: "create", Generic: true, New: generic(Create),
			Summary: "PUT new documents with If-None-Match: *"},
		{Name: "mixed", Generic: true, New: generic(Mixed),
			Summary: "--ratio reads, the rest updates as in update"},
		{Name: "tx-transfer", New: truceOnly("tx-transfer", TxTransfer),
			Summary: "read two of --docs accounts, move an amount between them in one POST /v1/tx with ifMatch; on 412/409 start over"},
		{Name: "lock-cycle", New: truceOnly("lock-cycle", LockCycle),
			Summary: "lock one of --docs documents (queueing), read it, PUT it with the Lock-Token, unlock"},
		{Name: "query", New: truceOnly("query", Query),
			Summary: "POST a query for the page of 100 documents from a random counter n on, ordered by n (the index [\"n\"], which it declares)"},
		{Name: "watch-fanout", New: truceOnly("watch-fanout", WatchFanout),
			Summary: "--subscribers follow GET /v1/events while the clients PUT; write rate and delivery delay"},
	}
}

// Lookup returns the spec named name.
func Lookup(name string) (Spec, bool) {
	specs := Specs()
	i := slices.IndexFunc(specs, func(s Spec) bool { return s.Name == name })
	if i < 0 {
		return Spec{}, false
	}
	return specs[i], true
}
