package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// Card references are kept per request in the order posted, in the format earlier
// versions stored (field names as JSON keys), and only for well-formed request ids.
func TestCardIndex(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	r := h.submit(nil)
	idx := CardIndex{Store: h.store}
	slack := CardRef{Platform: "slack", Channel: "C0APPROVALS", ID: "1700000000.000001"}
	teams := CardRef{Platform: "teams", Channel: "19:x@thread.tacv2", ID: "1759881511856"}
	for _, c := range []CardRef{slack, teams} {
		if err := idx.AddCard(ctx, r.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := idx.Cards(ctx, r.ID)
	if err != nil || !reflect.DeepEqual(got, []CardRef{slack, teams}) {
		t.Fatalf("cards %+v, %v", got, err)
	}
	var raw []byte
	if err := h.store.View(ctx, func(tx Tx) error { raw = append(raw, tx.Get(bucketCards, []byte(r.ID))...); return nil }); err != nil {
		t.Fatal(err)
	}
	var stored []map[string]string
	if err := json.Unmarshal(raw, &stored); err != nil || stored[0]["Platform"] != "slack" || stored[1]["ID"] != "1759881511856" {
		t.Fatalf("stored %s (%v)", raw, err)
	}
	other := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(9) })
	if none, err := idx.Cards(ctx, other.ID); err != nil || len(none) != 0 {
		t.Fatalf("cards of another id: %+v, %v", none, err)
	}
	if err := idx.AddCard(ctx, "not-an-id", slack); !errors.Is(err, ErrInvalid) {
		t.Fatalf("AddCard with a malformed id: %v", err)
	}
}
