package meta_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/graphvault/graphvault/store/meta"
)

func Example() {
	ctx := context.Background()
	s, err := meta.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	sn := &meta.Snapshot{GraphID: "entities", Kind: meta.SnapshotFull, Status: meta.SnapshotRunning}
	if err := s.CreateSnapshot(ctx, sn); err != nil {
		log.Fatal(err)
	}
	sn.Status = meta.SnapshotCompleted
	sn.Nodes, sn.Edges = 120, 340
	if err := s.UpdateSnapshot(ctx, sn); err != nil {
		log.Fatal(err)
	}

	latest, err := s.LatestSnapshot(ctx, "entities", meta.SnapshotCompleted)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Dialect(), latest.ID == sn.ID, latest.Nodes, latest.Edges)
	// Output: sqlite true 120 340
}

func ExampleStore_ListSnapshots() {
	ctx := context.Background()
	s, err := meta.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for range 5 {
		if err := s.CreateSnapshot(ctx, &meta.Snapshot{GraphID: "g"}); err != nil {
			log.Fatal(err)
		}
	}

	// Walk every page: pass back the cursor until it is empty.
	cursor, pages, total := "", 0, 0
	for {
		page, next, err := s.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: "g", Cursor: cursor, Limit: 2})
		if err != nil {
			log.Fatal(err)
		}
		pages++
		total += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	fmt.Println(pages, "pages,", total, "snapshots")
	// Output: 3 pages, 5 snapshots
}

func ExampleStore_AcquireLease() {
	ctx := context.Background()
	s, err := meta.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	acquire := func(holder string) bool {
		ok, err := s.AcquireLease(ctx, "nightly-snapshot", holder, time.Minute)
		if err != nil {
			log.Fatal(err)
		}
		return ok
	}
	fmt.Println("a:", acquire("instance-a"), "b:", acquire("instance-b"))
	if err := s.ReleaseLease(ctx, "nightly-snapshot", "instance-a"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("b after release:", acquire("instance-b"))
	// Output:
	// a: true b: false
	// b after release: true
}
