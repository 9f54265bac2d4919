// Package robustness checks real `truce serve` processes the Jepsen way:
// concurrent clients send requests while a nemesis kills (SIGKILL and
// restart on the same data directory), pauses (SIGSTOP/SIGCONT) or starves
// (client timeouts) the server; every operation is recorded with its
// invocation and return times and its outcome (ok, failed with a status and
// code, or unknown when the answer never came), and the history is checked
// with porcupine against a model of what docs/api.md promises. After every
// restart, every acknowledged write must still be there.
//
// The package owns the runner (Run), the fault injection, the recording,
// the artifacts written on a violation, and the workloads. A workload is a
// generator plus a model (Workload); the versioned-document workload
// (Documents) is the first. Transactions and locks plug in the same way: a
// Workload whose clients send /v1/tx batches or lock requests, a porcupine
// model of a bank or a fenced register, and, where the invariant is not
// about one history, a HistoryChecker. Bank sends atomic batches;
// Interactive runs the same bank over interactive transactions (begin,
// read, stage, commit). See Workload for the contract.
package robustness
