package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// InitialBalance is the balance tx-transfer gives each account when it
// seeds them; the total over --docs accounts never changes after that.
const InitialBalance = 1000

// TxTransfer is the tx-transfer workload, which needs truce: --docs
// accounts (documents "a0", "a1", … with a "balance") in the target's
// collection with "-tx" appended, and each operation a transfer of a
// small amount between two random accounts. A client reads both accounts,
// then sends one atomic batch (POST /v1/tx) with a merge patch of each
// balance carrying ifMatch on the ETag it read. When another transfer
// changed either account meanwhile the batch is refused whole (412, or
// 409): the client counts a conflict, reads both again and retries.
// Goodput is committed transfers per second, and the total balance is
// unchanged at the end (TxTotal).
func TxTransfer(t *Truce) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		collection := t.collection + "-tx"
		if err := t.setCollection(ctx, collection, `{"conflictPolicy":"reject"}`); err != nil {
			return nil, err
		}
		accounts := max(cfg.Docs, 2)
		pad := strings.Repeat("p", max(0, cfg.DocSize-len(`{"balance":1000,"pad":""}`)))
		for i := range accounts {
			body, err := json.Marshal(map[string]any{"balance": InitialBalance, "pad": pad})
			if err != nil {
				return nil, err
			}
			p := t.docPath(collection, accountKey(i))
			a, err := t.do(ctx, "PUT", p, body)
			if err != nil {
				return nil, fmt.Errorf("seed %s: %w", accountKey(i), err)
			}
			if a.status != http.StatusOK && a.status != http.StatusCreated {
				return nil, unexpected("PUT", p, a)
			}
		}
		return func(ctx context.Context, c *Client) (Result, error) {
			from := c.Rand.IntN(accounts)
			to := c.Rand.IntN(accounts - 1)
			if to >= from {
				to++
			}
			amount := 1 + c.Rand.IntN(10)
			return transfer(ctx, t, collection, accountKey(from), accountKey(to), amount)
		}, nil
	})
}

// accountKey is the id of account i of tx-transfer.
func accountKey(i int) string { return "a" + strconv.Itoa(i) }

// account is what tx-transfer reads of an account.
type account struct {
	Balance int64 `json:"balance"`
}

// readAccount reads one account's balance and ETag.
func readAccount(ctx context.Context, t *Truce, collection, id string) (account, string, error) {
	p := t.docPath(collection, id)
	a, err := t.do(ctx, "GET", p, nil)
	if err != nil {
		return account{}, "", err
	}
	if a.status != http.StatusOK {
		return account{}, "", unexpected("GET", p, a)
	}
	var acc account
	if err := json.Unmarshal(a.body, &acc); err != nil {
		return account{}, "", fmt.Errorf("GET %s: %w", p, err)
	}
	return acc, a.header.Get("ETag"), nil
}

// txPatch is one patch op of a transfer batch.
type txPatch struct {
	Op         string  `json:"op"`
	Collection string  `json:"collection"`
	ID         string  `json:"id"`
	IfMatch    string  `json:"ifMatch"`
	MergePatch account `json:"mergePatch"`
}

// transfer moves amount from one account to another in one batch,
// reading both and retrying until the batch commits.
func transfer(ctx context.Context, t *Truce, collection, from, to string, amount int) (Result, error) {
	var r Result
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.Retries++
		}
		src, srcTag, err := readAccount(ctx, t, collection, from)
		if err != nil {
			return r, err
		}
		dst, dstTag, err := readAccount(ctx, t, collection, to)
		if err != nil {
			return r, err
		}
		batch := struct {
			Ops []txPatch `json:"ops"`
		}{Ops: []txPatch{
			{Op: "patch", Collection: collection, ID: from, IfMatch: srcTag, MergePatch: account{src.Balance - int64(amount)}},
			{Op: "patch", Collection: collection, ID: to, IfMatch: dstTag, MergePatch: account{dst.Balance + int64(amount)}},
		}}
		body, err := json.Marshal(batch)
		if err != nil {
			return r, err
		}
		a, err := t.do(ctx, "POST", "/v1/tx", body)
		if err != nil {
			return r, err
		}
		switch a.status {
		case http.StatusOK:
			r.Writes++
			return r, nil
		case http.StatusPreconditionFailed, http.StatusConflict:
			r.Conflicts++
			continue
		}
		return r, unexpected("POST", "/v1/tx", a)
	}
}

// TxTotal reads the accounts of a tx-transfer run over docs accounts and
// returns their total balance and the sum of their versions, for checks.
func TxTotal(ctx context.Context, t *Truce, docs int) (total, versions int64, err error) {
	return sumDocs(ctx, t, t.collection+"-tx", max(docs, 2), accountKey, "balance")
}
