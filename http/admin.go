package http

import (
	"net/http"
	"strings"
	"time"

	"github.com/trucedb/truce"
)

// backupRequest is the body of POST /v1/admin/backup.
type backupRequest struct {
	// To is the directory, on the server's file system, to write the
	// backup into.
	To string `json:"to"`
}

// backup serves POST /v1/admin/backup (admin): an online, consistent
// backup of the store into a directory of the server's machine, answered
// with its manifest once it is complete.
func (h *Handler) backup(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	var req backupRequest
	if err := strictJSON(body, &req); err != nil {
		h.problem(w, r, truce.Errorf(truce.CodeInvalidJSON, "the backup request must be {\"to\": \"/absolute/directory\"}: %s", strings.TrimPrefix(err.Error(), "json: ")))
		return
	}
	// A large store takes longer than the server's write timeout to copy
	// and checksum; the answer comes once the backup is complete.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	m, err := h.svc.Backup(r.Context(), req.To)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	h.writeValue(w, r, http.StatusOK, m)
}

// importVersion serves POST /v1/admin/import (admin): one line of truce
// export, a version of a document as another server held it, written
// with its version number, times and author (Service.Import). The answer
// is the stored version: 201 when it brought the document to life, 200
// otherwise, with Truce-Import: unchanged when the document already held
// it (a rerun of an interrupted import).
func (h *Handler) importVersion(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	res, err := h.svc.Import(r.Context(), body)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	status := http.StatusOK
	switch {
	case res.Unchanged:
		w.Header().Set("Truce-Import", "unchanged")
	case res.Created:
		status = http.StatusCreated
	}
	writeDocument(w, r, status, res.Document)
}
