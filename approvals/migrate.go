package approvals

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MigrateReport says what Migrate copied.
type MigrateReport struct {
	Buckets map[string]int // bucket → keys copied
	Keys    int
	Verify  VerifyReport // the audit chain as read back from the target
}

// migrateBatch bounds the writes in one etcd Txn, below etcd's default --max-txn-ops
// (128) with room for the guard.
const migrateBatch = 100

// Migrate copies every bucket of a bbolt database (requests and their indexes, card
// references, the audit chain and its head, the schema version) into an empty etcd
// store, then reads the target back: the same keys in every bucket, and the audit
// chain verifies. It refuses a target that already holds mfadesk data.
//
// The meta bucket (schema version and chain head) is written last, and every batch
// is guarded by "no schema version yet", so a replica started against the target in
// the middle of the copy refuses it ("holds data but no schema version") instead of
// serving half a database, and a copy racing such a replica fails instead of mixing.
func Migrate(ctx context.Context, from *BoltStore, to *EtcdStore) (MigrateReport, error) {
	rep := MigrateReport{Buckets: map[string]int{}}
	if err := checkSchema(ctx, from); err != nil {
		return rep, fmt.Errorf("source %s: %w", from.Path(), err)
	}
	if used, err := to.holdsData(ctx); err != nil {
		return rep, fmt.Errorf("check the target is empty: %w", err)
	} else if used != "" {
		return rep, fmt.Errorf("the target already holds mfadesk data under %s (for example %q); migrate only into an empty prefix", to.prefix, used)
	}
	schemaKey := to.key(bucketMeta, []byte(keySchema))
	guard := clientv3.Compare(clientv3.CreateRevision(schemaKey), "=", 0)
	var batch []clientv3.Op
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cctx, cancel := to.opCtx(ctx)
		defer cancel()
		resp, err := to.cli.Txn(cctx).If(guard).Then(batch...).Commit()
		if err != nil {
			return to.storeErr(ctx, err, true)
		}
		if !resp.Succeeded {
			return errors.New("a replica initialised the target during the copy; stop it, empty the prefix and migrate again")
		}
		batch = batch[:0]
		return nil
	}
	err := from.db.View(func(tx *bolt.Tx) error {
		var names []string
		if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		}); err != nil {
			return err
		}
		// meta last: see above.
		slices.SortFunc(names, func(a, b string) int {
			if (a == bucketMeta) != (b == bucketMeta) {
				if a == bucketMeta {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		for _, name := range names {
			if err := validBucket(name); err != nil {
				return err
			}
			if name == bucketMeta {
				if err := flush(); err != nil {
					return err
				}
			}
			err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				if v == nil {
					return fmt.Errorf("bucket %s holds a nested bucket %q, which mfadesk never writes", name, k)
				}
				batch = append(batch, clientv3.OpPut(to.key(name, k), string(v)))
				rep.Buckets[name]++
				rep.Keys++
				if len(batch) == migrateBatch && name != bucketMeta {
					return flush()
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("copy bucket %s: %w", name, err)
			}
		}
		if len(batch) > migrateBatch {
			return fmt.Errorf("the meta bucket holds %d keys, more than one etcd transaction takes", len(batch))
		}
		return flush()
	})
	if err != nil {
		return rep, fmt.Errorf("migrate %s to etcd: %w", from.Path(), err)
	}
	// Read everything back through the Store interface, as the Service will.
	for name, n := range rep.Buckets {
		got := 0
		err := to.View(ctx, func(tx Tx) error {
			return tx.Scan(name, nil, func(_, _ []byte) (bool, error) { got++; return true, nil })
		})
		if err != nil {
			return rep, fmt.Errorf("read back bucket %s: %w", name, err)
		}
		if got != n {
			return rep, fmt.Errorf("bucket %s holds %d keys on the target after copying %d", name, got, n)
		}
	}
	if rep.Verify, err = verifyStore(ctx, to); err != nil {
		return rep, fmt.Errorf("verify the audit chain on the target: %w", err)
	}
	if !rep.Verify.OK {
		return rep, fmt.Errorf("the audit chain does not verify on the target: %s", rep.Verify)
	}
	return rep, nil
}

// holdsData returns a key of mfadesk data under the prefix, "" when there is none.
// Replica leases and the election (which a running OpenEtcd creates itself) do not
// count.
func (s *EtcdStore) holdsData(ctx context.Context) (string, error) {
	ignore := []string{s.bucketPrefix(bucketRunners), s.prefix + "/leader/"}
	start, end := s.prefix+"/", clientv3.GetPrefixRangeEnd(s.prefix+"/")
	for {
		cctx, cancel := s.opCtx(ctx)
		resp, err := s.cli.Get(cctx, start, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(etcdPage))
		cancel()
		if err != nil {
			return "", s.storeErr(ctx, err, false)
		}
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			if !slices.ContainsFunc(ignore, func(p string) bool { return strings.HasPrefix(k, p) }) {
				return k, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return "", nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
