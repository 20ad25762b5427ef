package blob_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
)

func Example() {
	ctx := context.Background()
	bucket := blob.NewBucket(memblob.New())
	defer bucket.Close()

	// Data objects first, the manifest last and only once.
	for _, key := range []string{"graphs/g1/segments/0002", "graphs/g1/segments/0001"} {
		if err := bucket.Put(ctx, key, []byte("segment "+key[len(key)-1:])); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := bucket.PutIfAbsent(ctx, "graphs/g1/manifest", []byte("{}")); err != nil {
		fmt.Println(err)
		return
	}
	err := bucket.PutIfAbsent(ctx, "graphs/g1/manifest", []byte("{}"))
	fmt.Println("second manifest:", errors.Is(err, blob.ErrExists))

	for a, err := range bucket.List(ctx, "graphs/g1/") {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(a.Key, a.Size)
	}

	data, err := bucket.Get(ctx, "graphs/g1/segments/0001")
	fmt.Printf("%s %v\n", data, err)

	_, err = bucket.Get(ctx, "graphs/g2/manifest")
	fmt.Println(err)
	fmt.Println(errors.Is(err, blob.ErrNotFound))

	err = bucket.Put(ctx, "../escape", nil)
	fmt.Println(errors.Is(err, blob.ErrInvalidKey))
	// Output:
	// second manifest: true
	// graphs/g1/manifest 2
	// graphs/g1/segments/0001 9
	// graphs/g1/segments/0002 9
	// segment 1 <nil>
	// blob get "graphs/g2/manifest": blob: not found
	// true
	// true
}

func ExampleWithMeterProvider() {
	// A host passes its own provider; nil means otel.GetMeterProvider().
	bucket := blob.NewBucket(memblob.New(), blob.WithMeterProvider(nil))
	defer bucket.Close()
	ok, err := bucket.Exists(context.Background(), "nothing/here")
	fmt.Println(ok, err)
	// Output: false <nil>
}
