package approvals

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestRecordsArePacked: a request record is stored compressed, at most about two
// thirds of its JSON, and reads back the same.
func TestRecordsArePacked(t *testing.T) {
	h := newHarness(t, nil)
	r := h.submit(nil)
	var stored []byte
	if err := h.store.View(context.Background(), func(tx Tx) error {
		stored = bytes.Clone(tx.Get(bucketRequests, []byte(r.ID)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	plain, err := json.Marshal(h.get(r.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || stored[0] != packedDeflate || len(stored) > len(plain)*2/3 {
		t.Errorf("stored record: %d bytes starting %q, JSON %d bytes; want packed to at most 2/3", len(stored), stored[:min(len(stored), 1)], len(plain))
	}
	if got := h.get(r.ID); got.ID != r.ID || got.Reason != r.Reason || !got.Created.Equal(r.Created) {
		t.Errorf("read back %+v", got)
	}
}

// TestSchemaOneMigrates: a version 1 file (plain JSON records) opens as version 2:
// the stamp changes, its records read as they are, and a record is packed when it
// is next written; the audit chain is untouched.
func TestSchemaOneMigrates(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	r := h.submit(nil)
	// Turn the file into what version 1 wrote: plain records, schema "1".
	if err := h.store.Update(ctx, func(tx Tx) error {
		plain, err := unpackRecord(bytes.Clone(tx.Get(bucketRequests, []byte(r.ID))))
		if err != nil {
			return err
		}
		if err := tx.Put(bucketRequests, []byte(r.ID), plain); err != nil {
			return err
		}
		return tx.Put(bucketMeta, []byte(keySchema), []byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	stored := func() []byte {
		var b []byte
		if err := h.store.View(ctx, func(tx Tx) error {
			b = bytes.Clone(tx.Get(bucketRequests, []byte(r.ID)))
			if v := string(tx.Get(bucketMeta, []byte(keySchema))); v != "2" {
				t.Errorf("schema %q after opening, want 2", v)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := stored(); len(b) == 0 || b[0] != '{' {
		t.Fatalf("the migration rewrote the record: %q", b[:min(len(b), 8)])
	}
	if got := h.get(r.ID); got.Reason != r.Reason {
		t.Fatalf("version 1 record read as %+v", got)
	}
	if _, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	if b := stored(); b[0] != packedDeflate {
		t.Errorf("the record was not packed when written: %q", b[:min(len(b), 8)])
	}
	h.mustVerify()
}

// TestCorruptPackedRecord: a packed record that does not decompress, or decompresses
// beyond any real record, is refused as unreadable rather than half-read.
func TestCorruptPackedRecord(t *testing.T) {
	huge, err := packRecord([]byte(`{"id":"` + strings.Repeat("A", maxRecord) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		stored []byte
		want   string
	}{
		{"not deflate", []byte{packedDeflate, 0xff, 0xfe, 0x00}, "decompress record"},
		{"cut short", func() []byte { b, _ := packRecord([]byte(`{"id":"R-1"}`)); return b[:len(b)-3] }(), "decompress record"},
		{"too large", huge, "larger than any request record"},
	} {
		if _, err := decodeRequest(tt.stored); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
