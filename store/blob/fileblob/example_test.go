package fileblob_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
)

func Example() {
	dir, err := os.MkdirTemp("", "fileblob-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	drv, err := fileblob.Open(filepath.Join(dir, "store"))
	if err != nil {
		fmt.Println(err)
		return
	}
	bucket := blob.NewBucket(drv)
	defer bucket.Close()

	ctx := context.Background()
	if err := bucket.Put(ctx, "graphs/g1/manifest", []byte("{}")); err != nil {
		fmt.Println(err)
		return
	}
	// The object is an ordinary file below the directory.
	data, err := os.ReadFile(filepath.Join(drv.Dir(), "graphs", "g1", "manifest"))
	fmt.Printf("%s %v\n", data, err)
	// Output: {} <nil>
}
