package store_test

import (
	"testing"

	"github.com/graphvault/graphvault/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.ForEachKind(t, func(t *testing.T, kind string) {
		storetest.Run(t, storetest.OpenerFor(kind))
	})
}
