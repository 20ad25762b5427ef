package blobtest_test

import (
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/blobtest"
	"github.com/graphvault/graphvault/store/blob/memblob"
)

func TestRunMemblob(t *testing.T) {
	blobtest.Run(t, func(*testing.T) blob.Driver { return memblob.New() })
}
