package health_test

import (
	"context"
	"fmt"
	"log"

	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/meta"
)

// diskCheck is a host's own check.
type diskCheck struct{ freeBytes int64 }

func (diskCheck) Component() string { return "host" }
func (diskCheck) Name() string      { return "disk" }

func (c diskCheck) Check(context.Context) health.Result {
	if c.freeBytes < 1<<30 {
		return health.Result{Status: health.Warn, Message: fmt.Sprintf("%d MiB free", c.freeBytes>>20)}
	}
	return health.Result{Status: health.Pass}
}

func Example() {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	r, err := health.New(st, []health.Checker{health.NewStoreCheck(st), diskCheck{freeBytes: 512 << 20}})
	if err != nil {
		log.Fatal(err)
	}
	// A host runs r.Start(ctx) and calls r.Trigger() when what the checks look at
	// changes; here one run on demand.
	rep := r.Run(ctx)
	fmt.Println(rep.Status)
	for _, c := range rep.Checks {
		fmt.Println(c.Key(), c.Status)
	}
	fmt.Println(rep.Reasons)
	// Output:
	// warn
	// host:disk warn
	// store:database pass
	// [host:disk: 512 MiB free]
}
