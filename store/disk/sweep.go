package disk

import "time"

// sweeper records recency every RecencyInterval, syncs the log every
// SyncInterval under FsyncInterval (see syncer.go) and removes expired
// entries: every SweepInterval all of them, and between sweeps those that
// Lookup ran into. It stops when Close closes stopSweep.
func (s *Store) sweeper() {
	defer close(s.sweepDone)
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	rt := time.NewTicker(s.opts.RecencyInterval)
	defer rt.Stop()
	var syncs <-chan time.Time // nil, never ready, unless FsyncInterval
	if s.opts.Fsync == FsyncInterval {
		st := time.NewTicker(s.opts.SyncInterval)
		defer st.Stop()
		syncs = st.C
	}
	for {
		select {
		case <-s.stopSweep:
			return
		case <-syncs:
			if err := s.syncActive(); err != nil {
				s.log.Warn("syncing the index log", "err", err)
			}
		case <-t.C:
			s.sweepExpired()
		case <-rt.C:
			if err := s.recordRecency(); err != nil {
				s.log.Warn("recording recency", "err", err)
			}
		case d := <-s.drops:
			ds := []drop{d}
		more:
			for len(ds) < 256 {
				select {
				case d := <-s.drops:
					ds = append(ds, d)
				default:
					break more
				}
			}
			s.removeIDs(ds)
		}
	}
}

// sweepExpired removes every entry past its horizon.
func (s *Store) sweepExpired() {
	nodes := s.idx.expiredBefore(s.now().UnixNano())
	if len(nodes) == 0 {
		return
	}
	ds := make([]drop, len(nodes))
	for i, n := range nodes {
		ds[i] = drop{id: n.id}
	}
	s.removeIDs(ds)
}
