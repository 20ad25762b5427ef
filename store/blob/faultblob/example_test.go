package faultblob_test

import (
	"context"
	"fmt"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
)

func Example() {
	ctx := context.Background()
	fd := faultblob.New(memblob.New())
	bucket := blob.NewBucket(fd)
	defer bucket.Close()

	// The second segment write is lost although it reports success, and every read
	// of a segment comes back with a flipped bit.
	fd.Inject(faultblob.Rule{Ops: faultblob.OpPut, Prefix: "seg/", Nth: 2, Write: faultblob.LoseWrite})
	fd.Inject(faultblob.Rule{Ops: faultblob.OpGet, Prefix: "seg/", FlipBit: true})

	for _, key := range []string{"seg/1", "seg/2"} {
		fmt.Println("put", key, bucket.Put(ctx, key, []byte("aaa")))
	}
	ok, err := bucket.Exists(ctx, "seg/2")
	fmt.Println("seg/2 stored:", ok, err)
	data, err := bucket.Get(ctx, "seg/1")
	fmt.Printf("seg/1 reads %q %v\n", data, err)
	fmt.Println("puts:", fd.Calls(faultblob.OpPut))
	// Output:
	// put seg/1 <nil>
	// put seg/2 <nil>
	// seg/2 stored: false <nil>
	// seg/1 reads "a`a" <nil>
	// puts: 2
}
