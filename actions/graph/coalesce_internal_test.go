package graph

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestIdenticalLookupsCoalesce: five agents diagnosing the same user at once cause one
// gathering (one $batch, three report calls), and each gets its own copy of the answer.
func TestIdenticalLookupsCoalesce(t *testing.T) {
	fake := graphtest.NewServer(graphtest.MustTenant("demo"))
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/$batch") {
			arrived <- struct{}{}
			<-release // hold the first gathering open until every lookup has joined it
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL + "/v1.0", MFAGroups: []string{"mfaoptin"}, Logger: slog.New(slog.DiscardHandler),
		ReportLimit: 5, ReportCacheTTL: -1, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const agents = 5
	joined := make(chan struct{}, agents)
	c.joined = func() { joined <- struct{}{} }
	id := "5a1b0001-0000-4000-8000-000000000002"
	q := actions.Query{Sources: actions.ForDiagnose}
	evs := make([]actions.Evidence, agents)
	var wg sync.WaitGroup
	for i := range agents {
		wg.Go(func() {
			var err error
			if evs[i], err = c.Gather(context.Background(), actions.UserRef{Kind: actions.RefObjectID, Value: id}, q); err != nil {
				t.Error(err)
			}
		})
	}
	<-arrived
	for range agents {
		<-joined
	}
	close(release)
	wg.Wait()
	if n := fake.ReportCalls(); n != 3 {
		t.Errorf("%d report calls for %d identical lookups, want 3", n, agents)
	}
	if n := len(arrived); n != 0 {
		t.Errorf("%d more batches sent", n)
	}
	for i := 1; i < agents; i++ {
		if len(evs[i].Methods) == 0 || len(evs[i].Methods) != len(evs[0].Methods) || evs[i].User.ID != id {
			t.Fatalf("lookup %d got %+v", i, evs[i].User)
		}
		if &evs[i].Methods[0] == &evs[0].Methods[0] {
			t.Errorf("lookups share the methods slice")
		}
	}
}
