package approvals

// sharedStore is implemented by stores that several mfadesk processes use at once
// (EtcdStore). runner returns this process's replica id while its lease is live, and
// "" when it has none.
type sharedStore interface {
	runner() string
}

// runnerFor returns the replica id to record on a claim. On a shared store the claim
// is refused unless this replica's lease is live at the claim's revision, so a
// replica cut off from etcd never starts work another replica may already have
// taken over. On a store one process owns it is "".
func (s *Service) runnerFor(tx Tx) (string, error) {
	sh, ok := s.store.(sharedStore)
	if !ok {
		return "", nil
	}
	id := sh.runner()
	if id == "" || tx.Get(bucketRunners, []byte(id)) == nil {
		return "", &Error{Code: ErrStoreUnavailable,
			Msg: "This mfadesk replica has lost its lease in the approvals database (etcd), so it cannot carry out approved requests right now; the leader replica will."}
	}
	return id, nil
}

// runnerGone reports whether the replica that claimed an executing request can no
// longer be running it: always on a store one process owns (the caller's own runs are
// excluded by claimLocal), and on a shared store when the runner's lease has ended,
// read inside the re-claiming transaction so the answer holds at its commit. The
// caller's own id counts as gone too: claimLocal already showed it is not running here.
func (s *Service) runnerGone(tx Tx, runner string) bool {
	sh, ok := s.store.(sharedStore)
	if !ok || runner == "" || runner == sh.runner() {
		return true
	}
	return tx.Get(bucketRunners, []byte(runner)) == nil
}
