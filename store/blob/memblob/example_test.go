package memblob_test

import (
	"context"
	"fmt"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
)

func Example() {
	ctx := context.Background()
	bucket := blob.NewBucket(memblob.New())
	defer bucket.Close()

	if err := bucket.Put(ctx, "hello", []byte("world")); err != nil {
		fmt.Println(err)
		return
	}
	data, err := bucket.Get(ctx, "hello")
	fmt.Printf("%s %v\n", data, err)
	// Output: world <nil>
}
